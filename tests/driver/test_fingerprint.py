"""A failure's fingerprint (sweeper/driver/fingerprint.py), on error texts in the form Tune 2.60 writes."""
from __future__ import annotations

from sweeper.driver.fingerprint import fingerprint, last_failure, normalize


def tune_error(exc_lines: str, n: int = 1, pid: int = 22353, actor: str = "b7970d72d0ca22019c0fc47801000000") -> str:
    """One ``Failure # n`` block as Tune appends it to error.txt for an exception of the trial's code."""
    return (f"Failure # {n} (occurred at 2026-12-03_22-59-58)\n"
            f"\x1b[36mray::ImplicitFunc.train()\x1b[39m (pid={pid}, ip=192.0.2.2, actor_id={actor}, repr=f)\n"
            "           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
            '  File "/usr/lib/python3.11/site-packages/ray/tune/trainable/trainable.py", line 329, in train\n'
            "    raise skipped from exception_cause(skipped)\n"
            '  File "/work/trainables/trial.py", line 190, in run_trial\n'
            "    after_report(cfg, trainer.done)\n"
            "    ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
            f"{exc_lines}\n")


def test_same_error_in_two_processes_has_one_fingerprint():
    a = tune_error("ValueError: the network at 0x7f3f77f2b940 (pid 22353) cannot take /tmp/batch_22353.npy: "
                   "shape (1, 8, 8) is too small\nafter 3.2 s at 12:01:02")
    b = tune_error("ValueError: the network at 0x7f11aa000010 (pid 4) cannot take /tmp/batch_4.npy: "
                   "shape (1, 8, 8) is too small\nafter 0.4 s at 23:59:10", pid=4, actor="0123456789abcdef0123")
    fa, fb = fingerprint(a), fingerprint(b)
    assert fa is not None and fb is not None
    assert fa.fingerprint == fb.fingerprint == (
        "ValueError: the network at 0x? (pid <n>) cannot take <path>: shape (1, 8, 8) is too small "
        "after <t> at <time>")
    assert fa.short == "ValueError: the network at 0x7f3f77f2b940 (pid 22353) cannot take /tmp/batch_22353.npy: " \
                       "shape (1, 8, 8) is too small"


def test_a_different_type_or_message_is_a_different_fingerprint():
    base = fingerprint(tune_error("ValueError: shape (1, 8, 8) is too small")).fingerprint
    assert fingerprint(tune_error("TypeError: shape (1, 8, 8) is too small")).fingerprint != base
    assert fingerprint(tune_error("ValueError: shape (1, 16, 16) is too small")).fingerprint != base


def test_the_last_failure_counts():
    text = tune_error("KeyError: 'rho'", n=1) + tune_error("ValueError: nan in the loss", n=2)
    f = last_failure(text)
    assert f is not None and (f.type, f.message) == ("ValueError", "nan in the loss")


def test_ray_task_error_wrapping_and_bare_types():
    f = last_failure(tune_error("ray.exceptions.RayTaskError(ZeroDivisionError): division by zero"))
    assert f is not None and (f.type, f.message) == ("ZeroDivisionError", "division by zero")
    f = last_failure(tune_error("StopIteration"))
    assert f is not None and (f.type, f.message) == ("StopIteration", "")
    f = last_failure(tune_error("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert f is not None and f.type == "OutOfMemoryError"  # torch's, not Ray's: last part of the name


def test_no_fingerprint_for_dead_processes_transient_errors_or_no_exception():
    died = ("Failure # 1 (occurred at 2026-12-03_22-59-58)\n"
            "The actor died unexpectedly before finishing this task.\n\tclass_name: ImplicitFunc\n\tpid: 123\n")
    assert last_failure(died) is None and fingerprint(died) is None
    assert fingerprint(tune_error("ray.exceptions.ActorDiedError: The actor died")) is None
    assert fingerprint(tune_error("ray.exceptions.OutOfMemoryError: Task was killed due to the node running low on "
                                  "memory.")) is None
    assert fingerprint(tune_error("ConnectionResetError: [Errno 104] Connection reset by peer")) is None
    assert fingerprint(tune_error("OSError: [Errno 28] No space left on device")) is None
    assert fingerprint(tune_error("RuntimeError: database is locked")) is None
    assert fingerprint("") is None
    # a wrong path does not heal by waiting: it has a fingerprint
    f = fingerprint(tune_error("FileNotFoundError: [Errno 2] No such file or directory: '/data/mnist/train.npz'"))
    assert f is not None and f.fingerprint == "FileNotFoundError: [Errno 2] No such file or directory: '<path>'"


def test_normalize_keeps_what_tells_errors_apart():
    assert normalize("expected 10 classes, got 12") == "expected 10 classes, got 12"
    assert normalize("worker 17 at 10.0.0.3:6379 after 250ms") == "worker <n> at <ip> after <t>"
    assert normalize("object 9f86d081884c7d65 lost at 2026-12-03T22:59:58.123Z") == "object <id> lost at <time>"
