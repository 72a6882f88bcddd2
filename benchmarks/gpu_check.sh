#!/usr/bin/env bash
# The GPU checks in one run, for a machine with CUDA (and torch, torchvision, scikit-learn, pytest there):
# every test parametrized over the `device` fixture on "cuda" (tests/conftest.py), the CUDA leg of the gpu
# benchmark's own test, then `sweeper bench gpu --json`. Writes gpu_tests.log, gpu.json and env.txt to $1.
# From the repository root: bash benchmarks/gpu_check.sh OUT_DIR   (the JSON goes into benchmarks/results/)
set -uo pipefail
out=${1:?usage: bash benchmarks/gpu_check.sh OUT_DIR}
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; uptime; nproc
  python3 -c "import sys, torch, torchvision; print(sys.version.split()[0], torch.__version__, torch.version.cuda,
torchvision.__version__, torch.cuda.get_device_name(0))"
  python3 -c "import torch; x = torch.ones(4096, device='cuda'); torch.manual_seed(0); a = torch.nn.functional.dropout(x, 0.5)
torch.manual_seed(0); b = torch.nn.functional.dropout(x.bfloat16(), 0.5); print('dropout masks fp32 == bf16:', torch.equal(a != 0, b != 0))"
} > "$out/env.txt" 2>&1
cat "$out/env.txt"
python3 -m pytest -q -p no:cacheprovider -o addopts= -k cuda tests/trainables \
    "tests/benchmarks/test_bench_registry.py::test_gpu_bench_needs_cuda_or_an_explicit_device" 2>&1 | tee "$out/gpu_tests.log"
tests_rc=${PIPESTATUS[0]}
start=$(date +%s)
python3 -c "from sweeper.cli import main; main()" bench gpu --json > "$out/gpu.json"
bench_rc=$?
echo "bench gpu: exit $bench_rc in $(( $(date +%s) - start )) s; load after: $(cat /proc/loadavg)" | tee -a "$out/env.txt"
echo "tests exit $tests_rc"
exit $(( tests_rc || bench_rc ))
