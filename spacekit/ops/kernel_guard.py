"""The one place that decides between a GPU kernel and the torch path that defines its result.

A kernel that fails (no compiler, an unsupported GPU) is logged once and the torch path serves from then on in this
process; with SPACEKIT_STRICT_KERNELS=1 (the GPU tests set it) the failure is raised instead, so a broken kernel fails
a test rather than hiding behind the fallback. CUDA running out of memory is no defect of a kernel: it is raised to
the caller as any torch op's would be, and the kernels stay on.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TypeVar

import torch

from spacekit.kernels import available as kernels_available

T = TypeVar("T")
log = logging.getLogger("spacekit")
BROKEN: list[str] = []  # names of the kernels that failed in this process (any one turns the kernels off)


def kernels_usable(dev: torch.device) -> bool:
    """CUDA, Triton importable, kernels not switched off (SPACEKIT_KERNELS=0), none failed in this process."""
    return dev.type == "cuda" and not BROKEN and kernels_available(dev)


def broken() -> bool:
    """Whether a kernel failed in this process (the torch paths serve from then on)."""
    return bool(BROKEN)


def strict() -> bool:
    """SPACEKIT_STRICT_KERNELS=1: a kernel failure is an error, not a fallback."""
    return os.environ.get("SPACEKIT_STRICT_KERNELS", "0") == "1"


def with_kernel(name: str, kernel: Callable[[], T], fallback: Callable[[], T]) -> T:
    """kernel(), or fallback() when the kernel fails (logged once; kernels off for the process from then on)."""
    try:
        return kernel()
    except torch.cuda.OutOfMemoryError:
        raise                   # the memory budget's matter, not the kernel's (the torch path needs more memory)
    except Exception as e:  # a kernel that fails to build or launch must not break the op
        if strict():
            raise
        log.warning("%s kernel unavailable (%s: %s); using the torch path", name, type(e).__name__,
                    (str(e).splitlines() or [""])[0])
        BROKEN.append(name)
        return fallback()
