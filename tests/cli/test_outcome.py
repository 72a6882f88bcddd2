"""How ``launch``, ``resume`` and ``confirm`` end (sweeper/cli/outcome.py): each early end of the driver
gets its message on stderr and its exit code, with the real exception classes the driver raises."""
from __future__ import annotations

import signal

import pytest

from sweeper.cli import outcome
from sweeper.commands.confirm import ConfirmError
from sweeper.driver.interrupt import SweepInterrupted
from sweeper.driver.local_ray import RayStartError
from sweeper.driver.preflight import PreflightError, SweepExists
from sweeper.store.sweepdir import NoSuchSweep, SpecChanged, SweepLocked

EARLY_ENDS = [
    (SweepInterrupted(signal.SIGINT), 130, "\ninterrupted by SIGINT"),
    (SweepInterrupted(signal.SIGTERM), 143, "\ninterrupted by SIGTERM"),
    (RayStartError("the local Ray instance did not start"), 1, "error: the local Ray instance did not start"),
    (SweepExists("sweep 'a' exists"), 2, "error: sweep 'a' exists"),
    (PreflightError("--num-cpus 0"), 2, "error: --num-cpus 0"),
    (NoSuchSweep("no sweep 'b'"), 2, "error: no sweep 'b'"),
    (SweepLocked("locked by pid 7"), 2, "error: locked by pid 7"),
    (SpecChanged("spec.yaml was edited"), 2, "error: spec.yaml was edited"),
    (ConfirmError("--seeds 1 was used for selection"), 2, "error: --seeds 1 was used for selection"),
]


@pytest.mark.parametrize(("exc", "code", "message"), EARLY_ENDS, ids=[f"{type(e).__name__}-{c}" for e, c, _ in EARLY_ENDS])
def test_each_early_end_of_the_driver_has_its_message_and_exit_code(exc, code, message, capsys):
    with pytest.raises(SystemExit) as ended, outcome.driver_run(ConfirmError):
        raise exc
    assert ended.value.code == code
    err = capsys.readouterr().err
    assert err.startswith(message) and "Traceback" not in err, err


def test_a_command_s_own_bad_input_counts_only_where_it_is_named_and_bugs_propagate():
    with pytest.raises(ConfirmError), outcome.driver_run():  # not named: not bad input of this command
        raise ConfirmError("x")
    with pytest.raises(KeyError), outcome.driver_run(ConfirmError):  # a bug keeps its traceback
        raise KeyError("x")
