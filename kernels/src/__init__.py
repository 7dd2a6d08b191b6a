"""GPU kernels (Triton), shipped as spacekit.kernels; ops/ uses them when CUDA and Triton are present.

SPACEKIT_KERNELS=0 turns them off (the torch path then runs); TRITON_INTERPRET=1 runs them on the CPU for tests.
"""

from __future__ import annotations

import os


def available(device=None) -> bool:
    """True when Triton is importable, kernels are not switched off, and the device can run them."""
    if os.environ.get("SPACEKIT_KERNELS", "1") == "0":
        return False
    try:
        import torch
        import triton  # noqa: F401
    except ImportError:
        return False
    if os.environ.get("TRITON_INTERPRET") == "1":
        return True
    return torch.cuda.is_available() and (device is None or getattr(device, "type", str(device)) == "cuda")
