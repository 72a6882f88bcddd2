"""A trial killed by Ray's memory monitor fails that trial only, never the sweep.

Ray (2.60) raises ``ray.exceptions.OutOfMemoryError`` for the running task of an actor that its
memory monitor killed. That class derives from ``RayError`` but neither from ``RayActorError``
nor ``RayTaskError``, and Tune's actor manager
(``ray.air.execution._internal.actor_manager.RayActorManager._actor_task_failed``) re-raises
any other exception as ``RuntimeError("Caught unexpected exception ...")``: the whole sweep stops.

``install()`` (called by the driver before ``Tuner.fit``) wraps that method so that an
``OutOfMemoryError`` is handled as what it is, the death of the trial's actor: it is passed on
as a ``RayActorError`` whose message is Ray's OOM text, so Tune records a failed trial (retried
up to ``search.max_failures`` times) and ``sweeper.results`` classifies its reason as
"out of memory". Every other exception goes through unchanged. Idempotent.
"""
from __future__ import annotations

_MARK = "_sweeper_oom_as_actor_death"


def install() -> None:
    from ray.air.execution._internal import actor_manager
    from ray.exceptions import OutOfMemoryError, RayActorError, RayTaskError

    cls = actor_manager.RayActorManager
    original = cls._actor_task_failed
    if getattr(original, _MARK, False):
        return

    def _actor_task_failed(self, tracked_actor_task, exception):
        if isinstance(exception, OutOfMemoryError) and not isinstance(exception, (RayActorError, RayTaskError)):
            converted = RayActorError(error_msg=str(exception))
            converted.__cause__ = exception
            exception = converted
        return original(self, tracked_actor_task, exception)

    setattr(_actor_task_failed, _MARK, True)
    cls._actor_task_failed = _actor_task_failed
