"""Where the time of one GPU top-k call goes (torch.profiler, CUDA time by kernel).

    python benchmarks/profile_topk.py [--nq 10000] [--n 1000000] [--d 768] [--dtype fp16]
"""

from __future__ import annotations

import argparse

import torch

from spacekit.ops import topk


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--nq", type=int, default=10_000)
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--d", type=int, default=768)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--dtype", default="fp16")
    args = p.parse_args()
    q = torch.nn.functional.normalize(torch.randn(args.nq, args.d, device="cuda"), dim=1)
    c = torch.nn.functional.normalize(torch.randn(args.n, args.d, device="cuda"), dim=1)
    topk(q, c, args.k, dtype=args.dtype)
    torch.cuda.synchronize()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU,
                                            torch.profiler.ProfilerActivity.CUDA]) as prof:
        topk(q, c, args.k, dtype=args.dtype)
        torch.cuda.synchronize()
    print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=14, max_name_column_width=60))


if __name__ == "__main__":
    main()
