"""Names of the values every trial reports: one vocabulary for trials, MLflow, Parquet and reports.

Regularizer-specific metrics are prefixed with the regularizer's YAML name (``dropmax_kl``,
``sal_params``, ...; each regularizer's ``Params.METRICS`` lists its own). Torch-free: the
driver's readers (tables, status, progress) import these names; the metric functions on
tensors are in ``trainables/metrics.py``.
"""
from __future__ import annotations

EPOCH = "epoch"
TRAIN_LOSS = "train_loss"
VAL_ERROR = "val_error"
VAL_NLL = "val_nll"
VAL_ECE = "val_ece"
TEST_ERROR = "test_error"
TEST_NLL = "test_nll"
TEST_ECE = "test_ece"
SECONDS = "seconds"
DIVERGED = "diverged"
# the model state of the best validation epoch (lowest val_error, ties: lower val_nll), tested after training
BEST_EPOCH = "best_epoch"
BEST_VAL_ERROR = "best_val_error"
BEST_TEST_ERROR = "best_test_error"
BEST_TEST_NLL = "best_test_nll"
BEST_TEST_ECE = "best_test_ece"
TEST_CALIBRATION = "test_calibration"  # JSON text: the final test calibration bins (see calibration_bins)
# the trial's own record (configuration, data fingerprint, hardware), one JSON string in its last
# result (see trainables/provenance.py)
PROVENANCE = "provenance"
