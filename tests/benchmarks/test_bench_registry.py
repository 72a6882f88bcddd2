"""Every registered benchmark imports and follows the module contract; ``gpu`` says clearly when no CUDA
is present (the benchmarks themselves are measurements, run by ``sweeper bench``, not tests)."""
from __future__ import annotations

import inspect

import pytest
import torch

import benchmarks as bench


@pytest.mark.parametrize("name", sorted(bench.BENCHMARKS))
def test_benchmark_module_contract(name):
    mod = bench.get(name)
    assert callable(mod.run) and "quick" in inspect.signature(mod.run).parameters
    assert mod.__doc__ and len(mod.__doc__) > 200


def test_unknown_benchmark_names_the_valid_ones():
    with pytest.raises(KeyError, match="did you mean 'gpu'"):
        bench.get("gpx")


def test_gpu_bench_needs_cuda_or_an_explicit_device():
    from benchmarks import gpu

    if torch.cuda.is_available():
        assert gpu.pick(None).type == "cuda" and gpu.device_name(gpu.pick(None))
    else:
        with pytest.raises(bench.Unavailable, match="no CUDA device"):
            gpu.pick(None)
    assert gpu.pick("cpu").type == "cpu" and gpu.device_name(torch.device("cpu")).startswith("CPU")
