"""``Callback``: a base for Ray Tune callbacks defined in modules that must import without Ray.

``sweeper.results`` holds both the Parquet/ledger readers (used by ``sweeper status``
and ``report``, which must start fast and import neither Ray nor torch) and the
driver's ``LedgerCallback``. Subclassing ``ray.tune.Callback`` there would import Ray
with the module. Subclassing this class instead defers it: making an instance
(``LedgerCallback(...)``) imports Ray and returns an instance of a subclass of both
the declared class and ``ray.tune.Callback`` (so Tune sees a real Callback, with its
default no-op hooks), built once per declared class. Pickling (Tune saves callbacks
with the experiment, ``sweeper resume`` restores them) goes through the declared
class and the instance's ``__getstate__``, so the stored form names no generated class.
"""
from __future__ import annotations

from typing import Any

_MIXED: dict[type, type] = {}


def _with_ray_base(cls: type) -> type:
    mixed = _MIXED.get(cls)
    if mixed is None:
        from ray.tune import Callback as RayCallback

        mixed = type(cls.__name__, (cls, RayCallback), {"__module__": cls.__module__, "_declared": cls})
        mixed.__qualname__ = cls.__qualname__
        _MIXED[cls] = mixed
    return mixed


def _rebuild(cls: type, state: dict[str, Any]) -> Any:
    obj = object.__new__(_with_ray_base(cls))
    obj.__dict__.update(state)
    return obj


class Callback:
    """Subclass like ``ray.tune.Callback``; Ray is imported when the first instance is made."""

    _declared: type | None = None

    def __new__(cls, *args: Any, **kwargs: Any):
        return object.__new__(cls if "_declared" in cls.__dict__ else _with_ray_base(cls))

    def __reduce__(self):
        state = self.__getstate__() or {}
        return _rebuild, (type(self)._declared or type(self), state)
