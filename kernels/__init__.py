"""GPU kernels (Triton), shipped as spacekit.kernels; ops/ uses them when CUDA and Triton are present."""

from __future__ import annotations


def available() -> bool:
    """True when CUDA and Triton are importable and usable."""
    try:
        import torch
        import triton  # noqa: F401
    except ImportError:
        return False
    return torch.cuda.is_available()
