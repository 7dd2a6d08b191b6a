"""Where the time of encode() goes: a timeline of the pipeline's stages and of the GPU, pass by pass.

    python benchmarks/profile_encode.py [--n 20000] [--device auto] [--dtype fp16] [--passes 2]
                                        [--cudnn-attention] [--mask-2d]

Each stage is timed where it runs (tokenize: the Rust tokenizer; ids: its output to id lists; collate; pin: the
copy into pinned memory; launch: the main thread queuing one forward pass) and, on a GPU, each forward pass
between two CUDA events. Per pass it prints the wall time, each stage's busy seconds, how long the GPU was busy
and idle, and the longest idle stretches with what the host did meanwhile; JSON to benchmarks/results/.
--cudnn-attention lets torch pick cuDNN's attention again, --mask-2d hands transformers the 2-d padding mask (its
per-batch device read): each undoes one of encode's choices, for a comparison run in a fresh process.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import device_name, print_table, write_results
from bench_encode import scifact_texts

import spacekit.embed.batching as batching
import spacekit.embed.encoder as encoding
from spacekit import backend
from spacekit.embed import load_model


class Timeline:
    """Host spans (stage, start, end) in seconds and, on a GPU, an event pair per forward pass."""

    def __init__(self, dev: torch.device):
        self.dev, self.spans, self.events = dev, [], []
        self.t0, self.ref = 0.0, None

    def start(self) -> None:
        """Begin a pass: clear everything and take time zero (an event too, on a GPU)."""
        self.spans, self.events = [], []
        backend.sync(self.dev)
        self.t0 = time.perf_counter()
        if self.dev.type == "cuda":
            self.ref = torch.cuda.Event(enable_timing=True)
            self.ref.record()

    def traced(self, stage: str, fn):
        """fn, with each call's host span recorded under stage."""
        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.spans.append((stage, t - self.t0, time.perf_counter() - self.t0))
        return wrapper

    def forward(self, fn):
        """embed_batch, with its host span ('launch') and, on a GPU, events before and after its kernels."""
        launch = self.traced("launch", fn)

        def wrapper(*args, **kwargs):
            if self.dev.type != "cuda":
                return launch(*args, **kwargs)
            before, after = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            before.record()
            out = launch(*args, **kwargs)
            after.record()
            self.events.append((before, after))
            return out
        return wrapper

    def gpu_spans(self) -> list[tuple[float, float]]:
        """(start, end) seconds of each forward pass on the device (on the CPU: its host span)."""
        if self.dev.type != "cuda":
            return [(a, b) for stage, a, b in self.spans if stage == "launch"]
        torch.cuda.synchronize()
        return [(self.ref.elapsed_time(a) / 1e3, self.ref.elapsed_time(b) / 1e3) for a, b in self.events]

    def summary(self, wall: float, top: int = 5) -> dict:
        """Busy seconds per stage, GPU busy/idle, and the longest idle stretches with the host stages in them."""
        gpu = self.gpu_spans()
        row = {"wall_s": wall, "batches": len(gpu)}
        for stage in ("tokenize", "ids", "collate", "pin", "launch"):
            row[f"{stage}_s"] = sum(b - a for s, a, b in self.spans if s == stage)
        row["gpu_busy_s"] = sum(b - a for a, b in gpu)
        row["gpu_idle_s"] = wall - row["gpu_busy_s"]
        row["first_forward_at_s"] = gpu[0][0] if gpu else None
        bounds = [0.0, *(x for span in gpu for x in span), wall]
        gaps = sorted(((bounds[i], bounds[i + 1]) for i in range(0, len(bounds) - 1, 2)), key=lambda g: g[0] - g[1])
        row["idle_stretches"] = [{"from_s": a, "ms": (b - a) * 1e3, "host": self._overlaps(a, b)}
                                 for a, b in gaps[:top] if b > a]
        return row

    def _overlaps(self, a: float, b: float) -> dict:
        """Milliseconds each stage ran within [a, b]."""
        out: dict[str, float] = {}
        for stage, s, e in self.spans:
            if e > a and s < b:
                out[stage] = out.get(stage, 0.0) + (min(b, e) - max(a, s)) * 1e3
        return {k: round(v, 2) for k, v in sorted(out.items(), key=lambda kv: -kv[1])}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=None, help="documents (default 600 on CPU, 20000 on GPU)")
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", default=None, help="default fp32 on CPU, fp16 on GPU")
    p.add_argument("--passes", type=int, default=2, help="passes over the same texts (the first pays one-off costs)")
    p.add_argument("--cudnn-attention", action="store_true", help="allow cuDNN's attention (torch's own order)")
    p.add_argument("--mask-2d", action="store_true", help="the 2-d padding mask, as transformers takes it")
    p.add_argument("--out", default=None, help="results folder")
    args = p.parse_args()
    variant = "+".join(name for name, on in [("cudnn-attention", args.cudnn_attention), ("mask-2d", args.mask_2d)]
                       if on) or "default"
    if args.cudnn_attention:
        encoding.ATTENTION_KERNELS = [torch.nn.attention.SDPBackend.CUDNN_ATTENTION, *encoding.ATTENTION_KERNELS]
    if args.mask_2d:
        encoding._takes_full_mask = lambda net, dev: False     # read by on_device when it places the network
    dev = backend.device(args.device)
    n = args.n or (600 if dev.type == "cpu" else 20000)
    dtype = args.dtype or ("fp32" if dev.type == "cpu" else "fp16")
    texts = scifact_texts(n)
    model = load_model("builtin:minilm")
    placement = backend.Placement.resolve(dev, dtype)
    model.encode(texts[:64], placement=placement, progress=False)   # as bench_encode's warm-up

    line = Timeline(dev)
    model.tokenizer.encodings = line.traced("tokenize", model.tokenizer.encodings)
    encoding.token_ids = line.traced("ids", encoding.token_ids)
    encoding.embed_batch = line.forward(encoding.embed_batch)
    batching.collate = line.traced("collate", batching.collate)
    torch.Tensor.pin_memory = line.traced("pin", torch.Tensor.pin_memory)
    rows = []
    for i in range(args.passes):
        line.start()
        model.encode(texts, placement=placement, progress=False)
        wall = time.perf_counter() - line.t0
        rows.append({"pass": i + 1, "n": n, "per_s": n / wall, **line.summary(wall)})
    print(f"device: {device_name(dev)}; {dtype}; {n} SciFact documents; {os.cpu_count()} CPUs; {variant}")
    print_table(rows, ["pass", "per_s", "wall_s", "batches", "tokenize_s", "ids_s", "collate_s", "pin_s", "launch_s",
                       "gpu_busy_s", "gpu_idle_s", "first_forward_at_s"])
    for r in rows:
        print(f"pass {r['pass']}: longest GPU idle stretches (ms, with host stage ms in them)")
        for g in r["idle_stretches"]:
            print(f"  {g['ms']:8.1f} ms from {g['from_s']:.3f} s: {g['host']}")
    env = {"variant": variant, "cpus": os.cpu_count(), "rayon_threads": os.environ.get("RAYON_NUM_THREADS"),
           "torch_threads": torch.get_num_threads(), "dtype": dtype,
           "transformers": __import__("transformers").__version__, "tokenizers": __import__("tokenizers").__version__}
    name = "encode-profile" + ("" if variant == "default" else "-" + variant)
    print("wrote", write_results(name, dev, {**env, "rows": rows}, args.out))


if __name__ == "__main__":
    main()
