"""The validator refuses a Malicious Dropout rho where the schedule ignores it (forward/reverse anneal
with anneal_offset; randomized draws rho), fixed, searched, or through when: conditions."""
from __future__ import annotations

import pytest

from sweeper import spec

BASE = {
    "name": "t",
    "dataset": {"name": "digits"},
    "model": {"name": "mlp", "params": {"widths": [16]}},
    "regularizer": {"name": "malicious_dropout"},
    "train": {"epochs": 1},
}
MD = {"regularizer.name": "malicious_dropout"}


def problems(raw) -> list[str]:
    with pytest.raises(spec.SpecError) as e:
        spec.from_dict(raw)
    return e.value.problems


@pytest.mark.parametrize("raw,where", [
    ({**BASE, "regularizer": {"name": "malicious_dropout", "params": {"schedule": "forward", "rho": 0.1}}},
     "regularizer.params.rho"),
    ({**BASE, "regularizer": {"name": "malicious_dropout", "params": {"schedule": "reverse"}},
      "space": {"regularizer.rho": {"type": "float", "low": 0.05, "high": 0.2}}}, "space.regularizer.rho"),
    ({**BASE, "space": {"regularizer.schedule": {"type": "categorical", "choices": ["standard", "forward"]},
                        "regularizer.rho": {"type": "float", "low": 0.05, "high": 0.2}}}, "space.regularizer.rho"),
    ({**BASE, "space": {"regularizer.name": {"type": "categorical", "choices": ["softmax", "malicious_dropout"]},
                        "regularizer.schedule": {"type": "categorical", "choices": ["standard", "reverse"], "when": MD},
                        "regularizer.rho": {"value": 0.1, "when": {**MD, "regularizer.schedule": ["reverse"]}}}},
     "space.regularizer.rho"),
    ({**BASE, "regularizer": {"name": "malicious_dropout", "params": {"rho": 0.1}},
      "space": {"regularizer.schedule": {"value": "forward"}}}, "regularizer.params.rho"),
])
def test_rho_with_forward_or_reverse_is_refused(raw, where):
    probs = [p for p in problems(raw) if p.startswith(where + ":")]
    assert len(probs) == 1, problems(raw)
    assert "ignore rho" in probs[0] and "anneal_offset" in probs[0] and "standard and periodic" in probs[0]


def test_rho_where_it_applies_is_accepted():
    ok = {**BASE, "space": {
        "regularizer.name": {"type": "categorical", "choices": ["softmax", "malicious_dropout"]},
        "regularizer.schedule": {"type": "categorical", "choices": ["standard", "periodic", "forward"], "when": MD},
        "regularizer.rho": {"type": "float", "low": 0.02, "high": 0.1,
                            "when": {**MD, "regularizer.schedule": ["standard", "periodic"]}},
        "regularizer.anneal_offset": {"type": "float", "low": -4.0, "high": -2.0,
                                      "when": {**MD, "regularizer.schedule": ["forward"]}},
    }}
    assert spec.from_dict(ok).space[2].path == "regularizer.rho"
    assert spec.from_dict({**BASE, "regularizer": {"name": "malicious_dropout", "params": {"rho": 0.1}}})
    # rho of another regularizer (random DropMax) is not concerned
    assert spec.from_dict({**BASE, "regularizer": {"name": "random_dropmax", "params": {"rho": 0.4}}})
