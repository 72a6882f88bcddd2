"""A trial killed by Ray's memory monitor fails that trial only, never the sweep.

Ray (2.60) raises ``ray.exceptions.OutOfMemoryError`` for the running task of an actor that its
memory monitor killed. That class derives from ``RayError`` but neither from ``RayActorError``
nor ``RayTaskError``, and Tune's actor manager
(``ray.air.execution._internal.actor_manager.RayActorManager._actor_task_failed``) re-raises
any other exception as ``RuntimeError("Caught unexpected exception ...")``: the whole sweep stops.

``install()`` (called by the driver before ``Tuner.fit``) wraps that method so that an
``OutOfMemoryError`` is handled as what it is, the death of the trial's actor: it is passed on
as a ``RayActorError`` whose message is Ray's OOM text, so Tune records a failed trial (retried
up to ``search.max_failures`` times) and ``sweeper.store.tables`` classifies its reason as
"out of memory". Every other exception goes through unchanged. Idempotent.

``ray.exceptions.NodeDiedError`` (also a bare ``RayError``) needs no such handling: a trial's
task cannot fail with it. Ray builds it only from the error type ``NODE_DIED``
(``ray/_private/serialization.py``, lines 503-505 in 2.60), which Ray's core worker sets for
*normal* tasks whose node is gone (``NormalTaskSubmitter``, when the dead worker's failure cause
cannot be fetched). A trial is an actor, and an actor task's error type comes from the actor's
death cause (``GetErrorInfoFromActorDeathCause``, used by ``ActorTaskSubmitter``, C++ sources
of Ray, not shipped in the wheel): ``ACTOR_DIED`` (for a dead node too, with
``ActorDiedErrorContext.reason = NODE_DIED``), ``OUT_OF_MEMORY`` (handled here),
``RUNTIME_ENV_SETUP_FAILED`` or ``ACTOR_UNSCHEDULABLE_ERROR``, or ``ACTOR_UNAVAILABLE``.
``ACTOR_DIED`` / ``ACTOR_UNAVAILABLE`` deserialize to ``ActorDiedError`` /
``ActorUnavailableError``, both ``RayActorError`` (serialization.py line 467; Tune handles
them, ``actor_manager.py`` line 271), which ``tests/e2e/test_distributed.py::
test_worker_node_killed_mid_sweep`` exercises for real. The last two would still stop the sweep
in Tune, as before; they concern every trial alike (a broken runtime environment, a resource
request no node can ever meet), which ``sweeper.driver.preflight.check_cluster`` checks at launch.
"""
from __future__ import annotations

from ray.air.execution._internal import actor_manager
from ray.exceptions import OutOfMemoryError, RayActorError, RayTaskError

_MARK = "_sweeper_oom_as_actor_death"


def install() -> None:
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
