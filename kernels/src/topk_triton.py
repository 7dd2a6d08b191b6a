"""Fused similarity + chunk top-2 kernel (Triton).

Scores of a (BLOCK_M x BLOCK_N) tile are accumulated on the tensor cores and, still in registers, reduced per query
row and SUB-column chunk to the best score, its column and the runner-up score, so the (nq x n) score matrix is
never written to device memory. ops.topk then takes the best chunks per query, re-scores their best columns in
fp32 (and every column of a chunk whose runner-up could still make the top k) with candidate_scores, and proves
the result exact. unit_rows gives the row scales (and unit-length fp16/bf16 rows) for cosine search.
"""

from __future__ import annotations

import os

import torch
import triton
import triton.language as tl

# (BLOCK_M, BLOCK_N, BLOCK_K, num_stages, num_warps) for fp16/bf16 and for fp32 (tf32) inputs;
# SPACEKIT_TOPK_KERNEL_CONFIG="128,256,64,4,8[,1]" overrides the first (a sixth field 1: the persistent TMA kernel,
# Hopper on) — benchmarks/bench_kernel.py sweeps them. low: the fastest of the H100 sweep (persistent, TMA loads).
# A chunk never spans two column blocks: its width divides BLOCK_N (max_chunk).
BLOCK_C, BLOCK_D = 16, 128  # candidate columns per program of the re-scoring kernels, and dimensions per step
CONFIGS = {"low": (128, 256, 64, 4, 8), "fp32": (128, 128, 32, 3, 8)}


@triton.jit
def _chunk_top2_kernel(q_ptr, c_ptr, scale_ptr, m1_ptr, a1_ptr, m2_ptr, nq, n, d, n_chunks,
                       stride_qm, stride_qk, stride_cn, stride_ck, stride_om,
                       BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, SUB: tl.constexpr,
                       TF32: tl.constexpr, SCALED: tl.constexpr):
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, d, BLOCK_K):
        kk = k0 + offs_k
        q = tl.load(q_ptr + offs_m[:, None].to(tl.int64) * stride_qm + kk[None, :] * stride_qk,
                    mask=(offs_m[:, None] < nq) & (kk[None, :] < d), other=0.0)
        c = tl.load(c_ptr + offs_n[None, :].to(tl.int64) * stride_cn + kk[:, None] * stride_ck,
                    mask=(offs_n[None, :] < n) & (kk[:, None] < d), other=0.0)
        if TF32:  # noqa: SIM108 (a constexpr branch: Triton compiles only one side)
            acc = tl.dot(q, c, acc, input_precision="tf32")
        else:
            acc = tl.dot(q, c, acc)
    _store_chunk_top2(acc, pid_m, pid_n, nq, n, n_chunks, scale_ptr, m1_ptr, a1_ptr, m2_ptr, stride_om, BLOCK_M,
                      BLOCK_N, SUB, SCALED)


@triton.jit
def _chunk_top2_persistent_kernel(q_desc, c_desc, scale_ptr, m1_ptr, a1_ptr, m2_ptr, nq, n, d, n_chunks, stride_om,
                                  BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                                  SUB: tl.constexpr, PROGRAMS: tl.constexpr, SCALED: tl.constexpr):
    """The same tiles brought in by the Hopper tensor-memory accelerator (out of range: zeros), one program per SM
    looping over them: the flattened loop nest starts the next tile's loads during this tile's epilogue, and
    consecutive tiles share a corpus block (read once from memory, the queries stay in L2)."""
    num_pid_m = tl.cdiv(nq, BLOCK_M)
    num_tiles = num_pid_m * tl.cdiv(n, BLOCK_N)
    for tile in tl.range(tl.program_id(0), num_tiles, PROGRAMS, flatten=True):
        pid_m = tile % num_pid_m
        pid_n = tile // num_pid_m
        acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
        for k0 in range(0, d, BLOCK_K):
            q = q_desc.load([pid_m * BLOCK_M, k0])                           # (BLOCK_M, BLOCK_K)
            c = c_desc.load([pid_n * BLOCK_N, k0])                           # (BLOCK_N, BLOCK_K)
            acc = tl.dot(q, c.T, acc)
        _store_chunk_top2(acc, pid_m, pid_n, nq, n, n_chunks, scale_ptr, m1_ptr, a1_ptr, m2_ptr, stride_om, BLOCK_M,
                          BLOCK_N, SUB, SCALED)


@triton.jit
def _store_chunk_top2(acc, pid_m, pid_n, nq, n, n_chunks, scale_ptr, m1_ptr, a1_ptr, m2_ptr, stride_om,
                      BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, SUB: tl.constexpr, SCALED: tl.constexpr):
    """Reduce a (BLOCK_M, BLOCK_N) score tile (times the column scales when SCALED) to best, its column and
    runner-up per SUB-column chunk; store them."""
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    if SCALED:
        acc = acc * tl.load(scale_ptr + offs_n, mask=offs_n < n, other=1.0)[None, :]
    acc = tl.where(offs_n[None, :] < n, acc, float("-inf"))
    NSUB: tl.constexpr = BLOCK_N // SUB
    chunks = tl.reshape(acc, (BLOCK_M, NSUB, SUB))
    best, arg = tl.max(chunks, axis=2, return_indices=True,                 # (BLOCK_M, NSUB) each, in one pass;
                       return_indices_tie_break_left=True)                  # the first column among equal maxima
    within = tl.arange(0, SUB)
    runner_up = tl.max(tl.where(within[None, None, :] == arg[:, :, None], float("-inf"), chunks), axis=2)
    chunk_id = pid_n * NSUB + tl.arange(0, NSUB)
    out = offs_m[:, None].to(tl.int64) * stride_om + chunk_id[None, :]
    ok = (offs_m[:, None] < nq) & (chunk_id[None, :] < n_chunks)
    tl.store(m1_ptr + out, best, mask=ok)
    tl.store(a1_ptr + out, chunk_id[None, :] * SUB + arg, mask=ok)
    tl.store(m2_ptr + out, runner_up, mask=ok)


def chunk_top2(q: torch.Tensor, c: torch.Tensor, sub: int,
               scale: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(b, d) x (n, d) -> best (b, m) fp32, its column (b, m) int32, runner-up (b, m) fp32 per sub-column chunk
    of q @ c.T (m = ceil(n / sub)), each column's score times scale[column] when scale (n,) fp32 is given; padding
    columns score -inf. sub must divide max_chunk(...).

    fp16/bf16 inputs use fp16/bf16 tensor-core products, fp32 inputs tf32 ones; accumulation is fp32.
    """
    b, d = q.shape
    n = c.shape[0]
    m = triton.cdiv(n, sub)
    best = torch.empty((b, m), dtype=torch.float32, device=q.device)
    col = torch.empty((b, m), dtype=torch.int32, device=q.device)
    runner_up = torch.empty((b, m), dtype=torch.float32, device=q.device)
    fp32 = q.dtype == torch.float32
    block_m, block_n, block_k, stages, warps, tma = kernel_config(fp32, q.device)
    if block_n % sub:
        raise ValueError(f"chunk width {sub} must divide the kernel's column block {block_n}")
    scaled = scale is not None
    scale = scale.contiguous() if scale is not None else best           # any pointer when not read
    tiles = (triton.cdiv(b, block_m), triton.cdiv(n, block_n))
    q, c = (q.contiguous(), c.contiguous()) if tma else (q, c)
    descriptor = _tensor_descriptor() if tma and not fp32 else None
    if descriptor and d % 8 == 0 and q.data_ptr() % 16 == 0 and c.data_ptr() % 16 == 0:   # TMA: 16-byte rows
        programs = _sm_count(q.device)                  # one compiled kernel per device; idle programs exit at once
        _chunk_top2_persistent_kernel[(programs,)](
            descriptor.from_tensor(q, [block_m, block_k]), descriptor.from_tensor(c, [block_n, block_k]), scale,
            best, col, runner_up, b, n, d, m, best.stride(0), BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_K=block_k,
            SUB=sub, PROGRAMS=programs, SCALED=scaled, num_warps=warps, num_stages=stages)
        return best, col, runner_up
    _chunk_top2_kernel[tiles](q, c, scale, best, col, runner_up, b, n, d, m, q.stride(0), q.stride(1), c.stride(0),
                              c.stride(1), best.stride(0), BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_K=block_k,
                              SUB=sub, TF32=fp32, SCALED=scaled, num_warps=warps, num_stages=stages)
    return best, col, runner_up


def max_chunk(fp32: bool, device: torch.device | None = None) -> int:
    """The widest chunk chunk_top2 takes for these inputs: the kernel's column block."""
    return kernel_config(fp32, device)[1]


def kernel_config(fp32: bool, device: torch.device | None = None) -> tuple[int, ...]:
    """(BLOCK_M, BLOCK_N, BLOCK_K, num_stages, num_warps, tma) for the chunk top-2 kernel; tma = 1: the persistent
    kernel with TMA loads, the default for fp16/bf16 on Hopper and later (compute capability 9+)."""
    override = os.environ.get("SPACEKIT_TOPK_KERNEL_CONFIG")
    if override and not fp32:                                            # fp32 tiles need their own shared memory
        values = tuple(int(v) for v in override.split(","))
        if len(values) not in (5, 6) or values[1] < 16 or values[1] & (values[1] - 1) or values[5:] not in (
                (), (0,), (1,)):
            raise ValueError(f"SPACEKIT_TOPK_KERNEL_CONFIG={override!r}: want BLOCK_M,BLOCK_N,BLOCK_K,stages,warps"
                             f"[,tma 0|1] with BLOCK_N a power of two >= 16")
        return (*values, 0) if len(values) == 5 else values
    if fp32:
        return (*CONFIGS["fp32"], 0)
    hopper = device is not None and device.type == "cuda" and torch.cuda.get_device_capability(device)[0] >= 9
    return (*CONFIGS["low"], int(hopper))


def _tensor_descriptor():
    """Triton's host-side TMA descriptor class, or None in a Triton too old to have one (the pointer kernel runs)."""
    try:
        from triton.tools.tensor_descriptor import TensorDescriptor
    except ImportError:
        return None
    return TensorDescriptor


def _sm_count(device: torch.device) -> int:
    """Streaming multiprocessors of the device (4 in Triton's CPU interpreter)."""
    return torch.cuda.get_device_properties(device).multi_processor_count if device.type == "cuda" else 4


@triton.jit
def _score_columns(q_ptr, c_ptr, out_s_ptr, out_c_ptr, row, cols, out_offs, store, n, d, stride_q, stride_c,
                   stride_out, BLOCK_C: tl.constexpr, BLOCK_D: tl.constexpr, WRITE_COLS: tl.constexpr):
    """fp32 scores of query `row` against corpus rows `cols` (BLOCK_C,), -inf (column n) where a column is
    outside 0..n-1; stored at out[row, out_offs] where `store`."""
    ok = (cols >= 0) & (cols < n)
    safe = tl.where(ok, cols, 0).to(tl.int64)
    acc = tl.zeros((BLOCK_C,), dtype=tl.float32)
    for d0 in range(0, d, BLOCK_D):
        offs_d = d0 + tl.arange(0, BLOCK_D)
        in_d = offs_d < d
        qv = tl.load(q_ptr + row * stride_q + offs_d, mask=in_d, other=0.0)
        cv = tl.load(c_ptr + safe[:, None] * stride_c + offs_d[None, :], mask=ok[:, None] & in_d[None, :],
                     other=0.0).to(tl.float32)                            # fp16/bf16 rows: their exact fp32 values
        acc += tl.sum(cv * qv[None, :], axis=1)                           # fp32 products and sums: no tf32
    tl.store(out_s_ptr + row * stride_out + out_offs, tl.where(ok, acc, float("-inf")), mask=store)
    if WRITE_COLS:
        tl.store(out_c_ptr + row * stride_out + out_offs, tl.where(ok, cols.to(tl.int64), n), mask=store)


@triton.jit
def _gather_dot_kernel(q_ptr, c_ptr, cols_ptr, out_s_ptr, out_c_ptr, n, d, n_cols, stride_q, stride_c, stride_cols,
                       stride_out, BLOCK_C: tl.constexpr, BLOCK_D: tl.constexpr, WRITE_COLS: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    offs = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    cols = tl.load(cols_ptr + row * stride_cols + offs, mask=offs < n_cols, other=-1)
    _score_columns(q_ptr, c_ptr, out_s_ptr, out_c_ptr, row, cols, offs, offs < n_cols, n, d, stride_q, stride_c,
                   stride_out, BLOCK_C, BLOCK_D, WRITE_COLS)


@triton.jit
def _span_scores_kernel(q_ptr, c_ptr, spans_ptr, out_s_ptr, out_c_ptr, n, d, first, stride_q, stride_c,
                        stride_spans, stride_out, SUB: tl.constexpr, SPAN_C: tl.constexpr, BLOCK_D: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    slot = tl.program_id(1)
    chunk = tl.load(spans_ptr + row * stride_spans + slot).to(tl.int64)
    base = first + slot * SUB
    if chunk >= 0:                                                        # every column of the chunk
        for c0 in range(0, SUB, SPAN_C):
            offs = c0 + tl.arange(0, SPAN_C)
            _score_columns(q_ptr, c_ptr, out_s_ptr, out_c_ptr, row, chunk * SUB + offs, base + offs, offs < SUB, n,
                           d, stride_q, stride_c, stride_out, SPAN_C, BLOCK_D, True)
    else:                                                                 # an unused slot: no loads
        unused = base + tl.arange(0, SUB)
        tl.store(out_s_ptr + row * stride_out + unused, tl.full((SUB,), float("-inf"), tl.float32))
        tl.store(out_c_ptr + row * stride_out + unused, tl.zeros((SUB,), tl.int64) + n)


def candidate_scores(q: torch.Tensor, c: torch.Tensor, cols: torch.Tensor, spans: torch.Tensor, sub: int,
                     scale: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact fp32 scores of each query row against its candidate corpus rows.

    q (b, d) fp32; c (n, d) fp32/fp16/bf16 (read as its exact fp32 values); cols (b, kc) column ids, -1 for none;
    spans (b, e) chunk ids, -1 for none: chunk j stands for the columns j * sub ... j * sub + sub - 1; scale (n,)
    fp32 multiplies each column's score. -> scores (b, kc + e * sub) fp32 and their columns int64, in that order
    (cols, then each span's columns); a missing or out-of-range column scores -inf with column n. Two kernels (the
    listed columns, the spans), each with its own registers: the gather is memory-bound and needs occupancy (40
    registers a thread on sm_90; 80 with the scales loaded in it, so they are applied after).
    """
    q, c, cols, spans = q.contiguous(), c.contiguous(), cols.contiguous(), spans.contiguous()
    (b, d), kc, e = q.shape, cols.shape[1], spans.shape[1]
    out_s = torch.empty((b, kc + e * sub), dtype=torch.float32, device=q.device)
    out_c = torch.empty((b, kc + e * sub), dtype=torch.int64, device=q.device)
    _gather_dot_kernel[(b, triton.cdiv(kc, BLOCK_C))](
        q, c, cols, out_s, out_c, c.shape[0], d, kc, q.stride(0), c.stride(0), cols.stride(0), out_s.stride(0),
        BLOCK_C=BLOCK_C, BLOCK_D=BLOCK_D, WRITE_COLS=True, num_warps=4)
    if e:
        _span_scores_kernel[(b, e)](q, c, spans, out_s, out_c, c.shape[0], d, kc, q.stride(0), c.stride(0),
                                    spans.stride(0), out_s.stride(0), SUB=sub, SPAN_C=min(sub, BLOCK_C),
                                    BLOCK_D=BLOCK_D, num_warps=4)
    if scale is not None:                       # one fp32 product each, after: loaded in a kernel, 2x its registers
        out_s.mul_(scale[out_c.clamp(max=c.shape[0] - 1)])                # -inf (no column) stays -inf
    return out_s, out_c


def gather_dot(q: torch.Tensor, c: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """(b, d) fp32 x (n, d) at columns (b, kc) -> (b, kc) fp32 scores q[i] . c[cols[i, j]] computed in fp32 without
    materialising the gathered rows; a column outside 0..n-1 (padding) scores -inf."""
    q, c, cols = q.contiguous(), c.contiguous(), cols.contiguous()
    b, kc = cols.shape
    out = torch.empty((b, kc), dtype=torch.float32, device=q.device)
    _gather_dot_kernel[(b, triton.cdiv(kc, BLOCK_C))](q, c, cols, out, out, c.shape[0], q.shape[1], kc, q.stride(0),
                                                      c.stride(0), cols.stride(0), out.stride(0), BLOCK_C=BLOCK_C,
                                                      BLOCK_D=BLOCK_D, WRITE_COLS=False, num_warps=4)
    return out


@triton.jit
def _unit_rows_kernel(x_ptr, low_ptr, inv_ptr, n, d, stride_x, stride_low, BLOCK_R: tl.constexpr,
                      BLOCK_D: tl.constexpr, WRITE: tl.constexpr):
    rows = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    in_rows = rows < n
    base = rows.to(tl.int64)
    sq = tl.zeros((BLOCK_R,), dtype=tl.float32)
    for d0 in range(0, d, BLOCK_D):
        cols = d0 + tl.arange(0, BLOCK_D)
        x = tl.load(x_ptr + base[:, None] * stride_x + cols[None, :], mask=in_rows[:, None] & (cols[None, :] < d),
                    other=0.0).to(tl.float32)
        sq += tl.sum(x * x, axis=1)
    inv = 1.0 / tl.maximum(tl.sqrt(sq), 1e-12)                            # F.normalize's eps: zero rows stay zero
    tl.store(inv_ptr + rows, inv, mask=in_rows)
    if WRITE:
        for d0 in range(0, d, BLOCK_D):
            cols = d0 + tl.arange(0, BLOCK_D)
            ok = in_rows[:, None] & (cols[None, :] < d)
            x = tl.load(x_ptr + base[:, None] * stride_x + cols[None, :], mask=ok, other=0.0)
            y = x * inv[:, None]
            tl.store(low_ptr + base[:, None] * stride_low + cols[None, :], y.to(low_ptr.dtype.element_ty), mask=ok)


def unit_rows(x: torch.Tensor, dtype: torch.dtype | None) -> tuple[torch.Tensor | None, torch.Tensor]:
    """(n, d) -> the rows scaled to unit length in `dtype` (n, d) (None when dtype is None: the scales only), and
    the scales 1 / |row| (n,) fp32 computed in fp32, in one kernel: one read of x when d <= 1024 (torch's normalize
    + conversion reads it three times and writes twice)."""
    x = x.contiguous()
    n, d = x.shape
    low = torch.empty((n, d), dtype=dtype, device=x.device) if dtype is not None else None
    inv = torch.empty((n,), dtype=torch.float32, device=x.device)
    block_d = min(1024, triton.next_power_of_2(d))
    block_r = max(1, 8192 // block_d)
    _unit_rows_kernel[(triton.cdiv(n, block_r),)](x, low if low is not None else inv, inv, n, d, x.stride(0),
                                                  low.stride(0) if low is not None else 0, BLOCK_R=block_r,
                                                  BLOCK_D=block_d, WRITE=low is not None, num_warps=4)
    return low, inv
