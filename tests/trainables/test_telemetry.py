"""Trial telemetry for the figures: calibration bins and gate values."""
from __future__ import annotations

import torch

from trainables import metrics as M
from trainables.regularizers import dropout_pp


def test_calibration_bins_reproduce_ece_and_counts():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(500, 5, generator=g) * 3
    target = torch.randint(0, 5, (500,), generator=g)
    total = M.accumulate(None, M.classification_metrics(logits[:200], target[:200]))
    total = M.accumulate(total, M.classification_metrics(logits[200:], target[200:]))
    bins = M.calibration_bins(total)
    p = logits.softmax(-1)
    conf, pred = p.max(-1)
    idx = torch.clamp((conf * 15).long(), max=14)
    assert len(bins["edges"]) == 16 and sum(bins["count"]) == 500
    ece = 0.0
    for b in range(15):
        sel = idx == b
        assert bins["count"][b] == int(sel.sum())
        if sel.any():
            acc = float((pred[sel] == target[sel]).float().mean())
            assert abs(bins["confidence"][b] - float(conf[sel].mean())) < 1e-5
            assert abs(bins["accuracy"][b] - acc) < 1e-6
            ece += int(sel.sum()) * abs(acc - float(conf[sel].mean())) / 500
        else:
            assert bins["confidence"][b] is None and bins["accuracy"][b] is None
    assert abs(M.finalize(total, "test")["test_ece"] - ece) < 1e-5


def test_gate_artifact_holds_unit_values_and_histogram():
    gate = dropout_pp.GDGate(6, "fc", 1.0, 1.0, 1.0, 0.0, 1e-6, 0.5, "dropout_pp", 2)
    with torch.no_grad():
        gate.k.copy_(torch.tensor([0.0, 0.1, 0.52, 0.97, 1.0, 1.3]))
    (name, art), = gate.final_artifacts().items()
    assert name == "dropout_pp_gates_2" and art["layer"] == 2
    assert art["k_unit"] == torch.tensor([0.0, 0.1, 0.52, 0.97, 1.0, 1.0]).tolist()  # clipped to [0, 1]
    assert sum(art["hist_count"]) == 6 and len(art["hist_edges"]) == dropout_pp.GATE_HIST_BINS + 1
    assert art["hist_count"][0] == 1 and art["hist_count"][2] == 1 and art["hist_count"][-1] == 3
