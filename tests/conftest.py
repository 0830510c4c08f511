"""Suite-wide settings: one torch thread per test process keeps the 2-core CI box responsive."""

from __future__ import annotations

import torch

torch.set_num_threads(1)
