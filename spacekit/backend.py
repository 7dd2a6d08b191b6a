"""Device and dtype choice, and the memory budget that sets every tile size (the one place for both)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from spacekit.errors import InputError

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16, "tf32": torch.float32}
# Default working memory for one op's temporaries (score tiles, distance tiles): 1 GiB on the CPU,
# a quarter of free memory on a GPU. SPACEKIT_MEMORY_BUDGET (bytes, or with a K/M/G suffix) overrides.
_DEFAULT_CPU_BUDGET = 1 << 30


def parse_bytes(text: str) -> int:
    """'512M' -> 536870912; a plain number is bytes."""
    text = text.strip().upper().removesuffix("B")
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
    number = text[:-1] if scale > 1 else text
    try:
        value = int(float(number) * scale)
    except ValueError:
        raise InputError(f"memory budget: cannot read {text!r} (use bytes or a K/M/G suffix)") from None
    if value <= 0:
        raise InputError(f"memory budget: must be positive, got {text!r}")
    return value


def device(spec: str | torch.device | None = None) -> torch.device:
    """'auto' (or None) -> cuda when available else cpu; 'cpu' / 'cuda' / 'cuda:N' as asked."""
    if isinstance(spec, torch.device):
        return spec
    spec = (spec or os.environ.get("SPACEKIT_DEVICE") or "auto").lower()
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"device {spec!r} asked for, but CUDA is not available")
    if not (spec == "cpu" or spec.startswith("cuda")):
        raise InputError(f"device must be auto, cpu or cuda, got {spec!r}")
    return torch.device(spec)


_resolve_device = device  # Placement.resolve's name for it (its argument is called device)


def dtype(name: str | None, dev: torch.device) -> torch.dtype:
    """Compute dtype: fp32 (default), bf16 or fp16 on a GPU; fp32 or bf16 on the CPU (fp16 there is slow and not
    worth its error: refused); 'auto' as dtype_name resolves it."""
    return DTYPES[dtype_name(name, dev)]


def dtype_name(name: str | None, dev: torch.device) -> str:
    """The precision a name asks for on dev: fp32 / bf16 / fp16 / tf32 as given, or 'auto': bf16 on a CPU with AMX
    or a GPU that has bf16, fp16 on a GPU without, else fp32. (AVX512-BF16 alone is not enough: on the 2-core dev
    VM, whose CPU has it but no AMX, oneDNN's bf16 matmul runs at half fp32's speed and MiniLM encodes 0.6x as fast.)"""
    name = check_dtype_name(name)
    if name == "auto":
        if dev.type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "bf16" if cpu_has_amx() else "fp32"
    if dev.type == "cpu" and name in ("fp16", "tf32"):
        raise InputError(f"dtype {name} runs on a GPU only; on the CPU use fp32, or bf16 on a CPU with native bf16")
    return name


def check_dtype_name(name: str | None) -> str:
    """The name, lower-cased (fp32 when None), or an InputError unless it is auto or one of DTYPES."""
    name = (name or "fp32").lower()
    if name != "auto" and name not in DTYPES:
        raise InputError(f"dtype must be one of auto, {', '.join(DTYPES)}, got {name!r}")
    return name


def cpu_has_amx() -> bool:
    """Whether this CPU has AMX tiles for bf16 (the amx_bf16 flag in /proc/cpuinfo; False where there is no such
    file): where bf16 encoding pays on a CPU."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "amx_bf16" in flags


@dataclass(frozen=True)
class Placement:
    """Where a network runs and in what precision, resolved once (Placement.resolve): a device, a precision name
    (fp32 / bf16 / fp16 / tf32) and tokens per forward batch (None: the device's default)."""

    device: torch.device
    precision: str = "fp32"
    batch_tokens: int | None = None

    @property
    def dtype(self) -> torch.dtype:
        """The torch dtype the network computes in."""
        return DTYPES[self.precision]

    @classmethod
    def resolve(cls, device: str | torch.device | None = None, dtype: str | None = None,
                batch_tokens: int | None = None) -> Placement:
        """The placement a request names: the device as backend.device resolves it, the precision as dtype_name
        does on it (auto included), batch_tokens checked (>= 1); an InputError for any bad part."""
        if batch_tokens is not None and batch_tokens < 1:
            raise InputError(f"batch tokens must be >= 1, got {batch_tokens}")
        dev = _resolve_device(device)
        return cls(dev, dtype_name(dtype, dev), batch_tokens)


@dataclass(frozen=True)
class Budget:
    """Bytes one op may use for temporaries; turns into tile sizes."""

    bytes: int

    def rows(self, row_bytes: int, *, at_least: int = 1, at_most: int | None = None) -> int:
        """How many rows of `row_bytes` each fit in the budget (clamped to [at_least, at_most])."""
        n = max(at_least, self.bytes // max(1, row_bytes))
        return min(n, at_most) if at_most else n


def budget(dev: torch.device | None = None, override: int | str | None = None) -> Budget:
    """The memory budget for `dev`: explicit override > SPACEKIT_MEMORY_BUDGET > device default."""
    value = override if override is not None else os.environ.get("SPACEKIT_MEMORY_BUDGET")
    if value is not None:
        return Budget(parse_bytes(str(value)) if isinstance(value, str) else int(value))
    if dev is not None and dev.type == "cuda":
        free, _total = torch.cuda.mem_get_info(dev)                      # 0.05 ms on the H100 (profile_topk)
        return Budget(free // 4)
    return Budget(_DEFAULT_CPU_BUDGET)


def sync(dev: torch.device) -> None:
    """Wait for queued device work (no-op on the CPU)."""
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
