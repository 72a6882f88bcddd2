"""Test-wide settings: one torch thread in the test process (2-core CI machine; Ray trials set
their own thread count from their CPU allocation), and the ``device`` fixture: a test that takes
``device`` runs once per available device (``cpu``, plus ``cuda`` when ``torch.cuda.is_available()``)
and asserts the same things on each."""
import pytest
import torch

torch.set_num_threads(1)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    return torch.device(request.param)
