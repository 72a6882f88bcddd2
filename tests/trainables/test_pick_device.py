"""A trial holding a GPU where torch sees no CUDA device runs on the CPU and says so."""
from __future__ import annotations

import logging

import pytest
import torch

from trainables import provenance
from trainables.trial import GPU_FALLBACK, pick_device

pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: no fallback to show")


def test_assigned_gpu_without_cuda_runs_on_the_cpu_and_warns(caplog):
    with caplog.at_level(logging.WARNING, logger="trainables.trial"):
        assert pick_device(["0"]) == torch.device("cpu")
    assert caplog.messages == [GPU_FALLBACK.format(ids="0")]
    hw = provenance.hardware(torch.device("cpu"), ["0"])
    assert hw["device"] == "cpu" and hw["gpus_assigned"] == ["0"]


def test_no_gpu_assigned_is_silent_and_records_nothing_new(caplog):
    with caplog.at_level(logging.WARNING, logger="trainables.trial"):
        assert pick_device() == torch.device("cpu")
    assert caplog.messages == []
    assert "gpus_assigned" not in provenance.hardware(torch.device("cpu"))
