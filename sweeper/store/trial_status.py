"""The one trial-status rule: what a trial's reports, the ledger and Tune's state say it is.

Statuses: ``finished`` (reported the test error, which only the last epoch evaluates),
``stopped`` (ended by the scheduler before its budget), ``diverged`` (reported a non-finite
training loss), ``error``, ``running``, ``pending``, ``unknown``. ``ended_status`` decides
between the first three from a trial's last report alone; ``trial_status`` adds the ledger
and Tune's snapshot. The tables, the Tune callbacks (ledger, MLflow, progress) and
``sweeper status`` all call these two.
"""
from __future__ import annotations

import re
from typing import Any

from trainables import metric_names as M

ENDED = ("finished", "stopped", "diverged", "error")


def ended_status(last: dict[str, Any]) -> tuple[str, str]:
    """(status, reason) of a trial that ended without an error, from its last report."""
    if last.get(M.DIVERGED):
        return "diverged", f"non-finite training loss at epoch {last.get(M.EPOCH)}"
    if last.get(M.TEST_ERROR) is not None:
        return "finished", ""
    return "stopped", f"stopped early by the scheduler at epoch {last.get(M.EPOCH)}"


def trial_status(last: dict[str, Any], snap: dict[str, Any] | None, led: dict[str, Any],
                 error_txt: str | None) -> tuple[str, str]:
    """(status, reason) of one trial, from the most to the least authoritative source.

    1. Its results: a report with ``diverged`` -> diverged; a report with the test error
       (only the last epoch evaluates on test) -> finished. Nothing can overrule this.
    2. The driver's ledger (reasons only it knows: a timeout, a retry in progress).
    3. Tune's snapshot: ERROR -> error; TERMINATED without a test error -> stopped (the
       scheduler ended it); RUNNING/PAUSED/PENDING as such.
    4. Tune's error.txt -> error. Otherwise unknown.
    """
    snap = snap or {}
    for src in (last, snap.get("last_result") or {}):
        status, reason = ended_status(src)
        if status != "stopped":  # finished or diverged: nothing overrules the trial's own report
            return status, reason
    lstat, lreason = led.get("status"), led.get("reason", "")
    tstat = snap.get("status")
    if lreason == "unknown error":  # Tune gave the callback no error text; its error.txt has it
        lreason = ""
    err_reason = failure_reason(lreason or error_txt or "", led) if (lreason or error_txt or led.get("timeout")) \
        else "unknown error"
    if lstat == "error" or (tstat == "ERROR" and lstat not in ("running", "pending")):
        return "error", err_reason
    if lstat == "stopped" or tstat == "TERMINATED":
        epoch = (last or snap.get("last_result") or {}).get(M.EPOCH)
        return "stopped", lreason or f"stopped early by the scheduler at epoch {epoch}"
    if lstat in ("running", "pending"):
        return lstat, lreason
    if tstat in ("RUNNING", "PENDING", "PAUSED"):
        return ("running" if tstat == "RUNNING" else "pending"), ""
    if error_txt is not None:
        return "error", err_reason
    return "unknown", ""


def retry_count(led: dict[str, Any], num_failures: int, status: str) -> int:
    """How often a trial was retried: the larger of the ledger's count and Tune's (``num_failures``,
    less the last failure of a trial that ended in error). A ledger write that failed (a full disk)
    can leave the ledger's count behind; Tune's snapshot still counts every failure."""
    tune_count = max(0, int(num_failures) - (status == "error"))
    return max(int(led.get("retries", 0) or 0), tune_count)


def failure_reason(error: str, led: dict[str, Any]) -> str:
    """A short, specific reason for a failed trial: the driver's own (a timeout, a failure not retried
    because another seed of its configuration failed the same way) first, then the kind of failure
    Ray reports (out of memory, a dead node or worker), then Tune's error text."""
    if led.get("timeout"):
        return led["timeout"]
    if led.get("not_retried"):
        return led["not_retried"]
    tail = (error or "unknown error")[-2000:]
    low = (error or "").lower()  # the whole text: Ray's OOM message comes first, a process table after it
    if "outofmemoryerror" in low or "low on memory" in low or "memory monitor" in low:
        # Ray's own numbers (node memory used / limit, the threshold), not the process table's tail
        facts = re.findall(r"(?:OOM kill reason: [^\n]*|Memory on the node [^\n]*? was [\d.]+GB used / [\d.]+GB "
                            "limit[^\n]*)", error or "")
        return "out of memory: killed by Ray's memory monitor\n" + ("\n".join(dict.fromkeys(facts)) or tail)
    return tail
