"""An A/B log of any size: write a generated JSONL log of N impressions (ts and dwell_s included), then run
`spacekit ab analyze LOG --json` on it in a fresh process under /usr/bin/time, and record its peak memory (RSS) and
wall time beside the file's size.

    python benchmarks/bench_ab_scale.py [--impressions 10000000] [--log /tmp/ab-10m.jsonl]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from _common import write_results

START_S = 1_767_225_600.0          # 2026-01-01 UTC
DOCS = [f"d{i}" for i in range(10)]


def write_log(path: Path, impressions: int, seed: int = 0, units_per_block: int = 100_000) -> int:
    """Write `impressions` rows (4 a unit on average, over 14 days, the treatment +0.02 a click) -> rows written."""
    rng = np.random.default_rng(seed)
    shown = json.dumps(DOCS)
    written, first_unit = 0, 0
    with open(path, "w", encoding="utf-8") as f:
        while written < impressions:
            counts = 1 + rng.poisson(3, size=units_per_block)
            treated = rng.random(units_per_block) < 0.5
            p = np.repeat(0.05 + 0.8 * rng.beta(3, 3, size=units_per_block) + 0.02 * treated, counts)
            n = int(counts.sum())
            unit = np.repeat(np.arange(first_unit, first_unit + units_per_block), counts)
            arm = np.repeat(treated, counts)
            clicked = rng.random(n) < p
            rank = rng.integers(0, 10, size=n)
            dwell = rng.exponential(40, size=n).round(1)
            ts = START_S + np.repeat(rng.integers(0, 14, units_per_block), counts) * 86_400 + rng.uniform(0, 80_000, n)
            lines = []
            for i in range(min(n, impressions - written)):
                click = f'["{DOCS[rank[i]]}"]' if clicked[i] else "[]"
                lines.append(f'{{"request_id": "r{written + i}", "unit_id": "u{unit[i]}", '
                             f'"arm": "{"new" if arm[i] else "old"}", "ts": {ts[i]:.3f}, "query": "q{i % 1000}", '
                             f'"shown": {shown}, "clicks": {click}, '
                             f'"dwell_s": {[float(dwell[i])] if clicked[i] else []}}}\n')
            f.writelines(lines)
            written += len(lines)
            first_unit += units_per_block
    return written


def main() -> None:
    """Generate (unless the file exists with that many rows), analyse under /usr/bin/time -v, record."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--impressions", type=int, default=10_000_000)
    parser.add_argument("--log", type=Path, default=None)
    args = parser.parse_args()
    path = args.log or Path(f"/tmp/ab-{args.impressions}.jsonl")
    t0 = time.perf_counter()
    rows = write_log(path, args.impressions)
    made = time.perf_counter() - t0
    spacekit = Path(sys.executable).with_name("spacekit")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    t0 = time.perf_counter()
    run = subprocess.run(["/usr/bin/time", "-v", str(spacekit), "ab", "analyze", str(path), "--control", "old",
                          "--json"], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if run.returncode != 0:
        raise SystemExit(run.stderr[-2000:])
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", run.stderr).group(1))
    report = json.loads(run.stdout)
    result = {"impressions": rows, "file_bytes": path.stat().st_size, "generate_s": round(made, 1),
              "analyze_wall_s": round(wall, 1), "peak_rss_bytes": peak_kb * 1024,
              "bytes_per_impression": round(peak_kb * 1024 / rows, 1), "verdict": report["verdict"],
              "units": report["units"], "success@3_delta": report["metrics"][0]["delta"]}
    print(json.dumps(result, indent=1))
    print(write_results("ab_scale", torch.device("cpu"), result))


if __name__ == "__main__":
    main()
