"""A Ray Tune searcher saved and restored whole with pickle (``sweeper resume``), as ``OptunaSearch`` is.

``save`` writes the searcher's ``__dict__`` (the inner searchers inside it pickle with it); ``restore`` updates
the freshly built searcher with it; ``get_state``/``set_state`` give Tune the same dictionary.
"""
from __future__ import annotations

import pickle

from ray.tune.search import Searcher


class PickledSearcher(Searcher):
    """Base of this package's searchers: their whole state is their ``__dict__``."""

    def get_state(self) -> dict:
        return dict(self.__dict__)

    def set_state(self, state: dict) -> None:
        self.__dict__.update(state)

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as f:
            pickle.dump(self.__dict__, f)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as f:
            self.__dict__.update(pickle.load(f))
