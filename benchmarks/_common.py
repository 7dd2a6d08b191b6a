"""Shared benchmark helpers: device name, timing, and writing results to benchmarks/results/."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SPACEKIT_DATA", ROOT.parent / "shared" / "data"))


def device_name(dev: torch.device) -> str:
    """'NVIDIA H100 80GB HBM3' or 'cpu: <processor> x N threads'."""
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    return f"cpu: {platform.processor() or platform.machine()} x {torch.get_num_threads()} threads"


def timed(fn, dev: torch.device, repeat: int = 1, warmup: int = 0) -> float:
    """Median seconds of fn() over `repeat` runs after `warmup` runs (CUDA events on a GPU)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        if dev.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            torch.cuda.synchronize()
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
        else:
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def write_results(name: str, dev: torch.device, payload: dict, out_dir: str | Path | None = None) -> Path:
    """Write {name}-{cpu|gpu}-{date}.json with device, torch version and payload; returns the path."""
    out = Path(out_dir or os.environ.get("SPACEKIT_RESULTS") or ROOT / "benchmarks" / "results")
    out.mkdir(parents=True, exist_ok=True)
    stamp = dt.date.today().isoformat()
    path = out / f"{name}-{'gpu' if dev.type == 'cuda' else 'cpu'}-{stamp}.json"
    record = {"benchmark": name, "device": device_name(dev), "date": stamp, "torch": torch.__version__,
              **payload}
    path.write_text(json.dumps(record, indent=1) + "\n")
    return path


def print_table(rows: list[dict], columns: list[str]) -> None:
    """A plain fixed-width table on stdout."""
    widths = [max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in columns]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for r in rows:
        print("  ".join(_fmt(r.get(c)).ljust(w) for c, w in zip(columns, widths, strict=True)))


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1000 else f"{v:,.0f}"
    return "" if v is None else str(v)
