"""Where the time of one top-k call goes: on a GPU the kernels by CUDA time and where the GPU waits; on the CPU
(--device cpu, or no GPU) the operations by their own CPU time, per input shape, and the plan.

    python benchmarks/profile_topk.py [--nq 10000] [--n 1000000] [--d 768] [--dtype fp16] [--inputs low|fp32]
                                      [--trace FILE.json] [--device cpu]

GPU: prints the kernels by CUDA time, the wall time of the profiled call, the longest stretches in which no kernel
ran (with the host ops launched meanwhile and the spacekit line they came from), and how long one
cudaMemGetInfo takes here. CPU: the operations (GEMM through numpy is outside torch's profiler: it is the wall time
the table does not hold), the wall time, the plan in words. --trace writes the timeline for chrome://tracing or
ui.perfetto.dev.
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from collections import Counter

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")  # before numpy loads, as the spacekit CLI sets it
import torch
from torch.autograd import DeviceType

from spacekit.ops import topk


def idle_stretches(prof, top: int = 6) -> list[str]:
    """The longest gaps between consecutive kernels, each with the host ops launched in it."""
    events = prof.events()
    gpu = sorted((e for e in events if e.device_type == DeviceType.CUDA), key=lambda e: e.time_range.start)
    cpu = [e for e in events if e.device_type == DeviceType.CPU]
    gaps = [(b.time_range.start - a.time_range.end, a, b) for a, b in itertools.pairwise(gpu)]
    lines = []
    for idle, a, b in sorted(gaps, key=lambda g: -g[0])[:top]:
        ops = [e for e in cpu if a.time_range.end <= e.time_range.start < b.time_range.start]
        names = ", ".join(f"{n} x{c}" for n, c in Counter(e.name for e in ops).most_common(4))
        where = next((f for e in ops for f in (e.stack or []) if "spacekit" in f), "")
        lines.append(f"{idle / 1e3:7.2f} ms idle after {a.name[:36]!r} before {b.name[:36]!r}: {names}  {where}")
    return lines


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--nq", type=int, default=10_000)
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--d", type=int, default=768)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--dtype", default="fp16")
    p.add_argument("--inputs", choices=["fp32", "low"], default="low",
                   help="vectors given in fp32, or in the --dtype itself (searched as given)")
    p.add_argument("--trace", default=None)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args()
    if args.device == "cpu":
        profile_cpu(args)
        return
    q = torch.nn.functional.normalize(torch.randn(args.nq, args.d, device="cuda"), dim=1)
    c = torch.nn.functional.normalize(torch.randn(args.n, args.d, device="cuda"), dim=1)
    if args.inputs == "low":
        low = {"fp16": torch.float16, "bf16": torch.bfloat16}[args.dtype]
        q, c = q.to(low), c.to(low)
    topk(q, c, args.k, candidate_precision=args.dtype)
    torch.cuda.synchronize()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU,
                                            torch.profiler.ProfilerActivity.CUDA], with_stack=True) as prof:
        t0 = time.perf_counter()
        topk(q, c, args.k, candidate_precision=args.dtype)
        torch.cuda.synchronize()
        wall = time.perf_counter() - t0
    print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=14, max_name_column_width=60))
    print(f"wall {wall * 1e3:.1f} ms under the profiler (compare: Self CUDA time total, the GPU busy)")
    print("longest stretches without a kernel:", *idle_stretches(prof), sep="\n  ")
    t0 = time.perf_counter()
    for _ in range(5):
        torch.cuda.mem_get_info()
    print(f"cudaMemGetInfo: {(time.perf_counter() - t0) / 5 * 1e3:.3f} ms per call")
    if args.trace:
        prof.export_chrome_trace(args.trace)


def profile_cpu(args) -> None:
    """The CPU call: operations by self CPU time per input shape, the wall time, the plan."""
    from spacekit.ops.similarity import describe_cpu_plan

    gen = torch.Generator().manual_seed(0)
    q, c = torch.randn(args.nq, args.d, generator=gen), torch.randn(args.n, args.d, generator=gen)
    topk(q, c, args.k)                                                     # the plan timed, buffers warm
    t0 = time.perf_counter()
    topk(q, c, args.k)
    plain = time.perf_counter() - t0
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], record_shapes=True) as prof:
        t0 = time.perf_counter()
        topk(q, c, args.k)
        wall = time.perf_counter() - t0
    ops = sorted(prof.key_averages(group_by_input_shape=True), key=lambda e: -e.self_cpu_time_total)
    listed = sum(e.self_cpu_time_total for e in ops) / 1e3
    for e in ops[:18]:
        print(f"{e.key:24s} {e.self_cpu_time_total / 1e3:9.1f} ms  x{e.count:<5d} {str(e.input_shapes)[:80]}")
    print(f"wall {plain * 1e3:.0f} ms ({wall * 1e3:.0f} ms under the profiler; torch operations {listed:.0f} ms)")
    print(describe_cpu_plan())
    if args.trace:
        prof.export_chrome_trace(args.trace)


if __name__ == "__main__":
    main()
