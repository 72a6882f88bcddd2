#!/usr/bin/env bash
# Regenerate every committed report (report.md, CSV tables, figures) from the committed result files, then the
# documentation's results pages (docs/results/*.md) and benchmark pages (docs/benchmarks/*.md, from benchmarks/results/*.json).
# Run from the repository root: bash results/regenerate.sh
set -euo pipefail
cd "$(dirname "$0")/.."
sweeper report results/maldrop_rho --baseline softmax --report-dir results/maldrop_rho/report --no-mlflow
sweeper report results/dropmax_table1_mnist1k --baseline softmax --paper search_spaces/paper/dropmax_table1_mnist1k.yaml \
    --report-dir results/dropmax_table1_mnist1k/report --no-mlflow
sweeper report results/gd_table1_sal --baseline softmax --paper search_spaces/paper/gd_table1_sal.yaml \
    --metric test_error --metric sal_params --report-dir results/gd_table1_sal/report --no-mlflow
sweeper report results/dropout_pp_variants --baseline dropout --metric test_error --metric dropout_pp_k_mean_1 \
    --report-dir results/dropout_pp_variants/report --no-mlflow
python docs/_gen/results_pages.py
python docs/_gen/bench_pages.py
