"""Test-wide settings: one torch thread in the test process (2-core CI machine; Ray trials set
their own thread count from their CPU allocation)."""
import torch

torch.set_num_threads(1)
