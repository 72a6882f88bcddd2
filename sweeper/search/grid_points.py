"""A searcher that proposes a fixed list of configurations once each, then FINISHED: the candidate set of a
raced grid (``search.racing`` with ``sampler: grid``; ``sweeper/search/race_searcher.py``), where Tune's own
grid cannot be used because the race decides which seeds each configuration gets."""
from __future__ import annotations

from ray.tune.search import Searcher

from sweeper.search.pickled import PickledSearcher


class GridPoints(PickledSearcher):
    """``points`` (dotted path -> value) in order, one per ``suggest``; results are not used."""

    def __init__(self, points: list[dict], metric: str | None = None, mode: str | None = None):
        super().__init__(metric=metric, mode=mode)
        self.points = [dict(p) for p in points]
        self.next = 0

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        return True

    def suggest(self, trial_id: str) -> dict | str | None:
        if self.next >= len(self.points):
            return Searcher.FINISHED
        self.next += 1
        return dict(self.points[self.next - 1])

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        pass
