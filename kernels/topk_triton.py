"""Fused similarity + chunk top-2 kernel (Triton).

Scores of a (BLOCK_M x BLOCK_N) tile are accumulated on the tensor cores and, still in registers, reduced per query
row and SUB-column chunk to the best score, its column and the runner-up score, so the (nq x n) score matrix is
never written to device memory. ops.topk then takes the best chunks per query, re-scores their best columns in
fp32 (and every column of a chunk whose runner-up could still make the top k), and proves the result exact.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

BLOCK_N = 128  # columns per program; a multiple of every chunk width


@triton.jit
def _chunk_top2_kernel(q_ptr, c_ptr, m1_ptr, a1_ptr, m2_ptr, nq, n, d, n_chunks,
                       stride_qm, stride_qk, stride_cn, stride_ck, stride_om,
                       BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, SUB: tl.constexpr,
                       TF32: tl.constexpr):
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, d, BLOCK_K):
        kk = k0 + offs_k
        q = tl.load(q_ptr + offs_m[:, None] * stride_qm + kk[None, :] * stride_qk,
                    mask=(offs_m[:, None] < nq) & (kk[None, :] < d), other=0.0)
        c = tl.load(c_ptr + offs_n[None, :] * stride_cn + kk[:, None] * stride_ck,
                    mask=(offs_n[None, :] < n) & (kk[:, None] < d), other=0.0)
        if TF32:  # noqa: SIM108 (a constexpr branch: Triton compiles only one side)
            acc = tl.dot(q, c, acc, input_precision="tf32")
        else:
            acc = tl.dot(q, c, acc)
    acc = tl.where(offs_n[None, :] < n, acc, float("-inf"))
    NSUB: tl.constexpr = BLOCK_N // SUB
    chunks = tl.reshape(acc, (BLOCK_M, NSUB, SUB))
    best = tl.max(chunks, axis=2)                                           # (BLOCK_M, NSUB)
    arg = tl.argmax(chunks, axis=2)                                         # first column among equal maxima
    within = tl.arange(0, SUB)
    runner_up = tl.max(tl.where(within[None, None, :] == arg[:, :, None], float("-inf"), chunks), axis=2)
    chunk_id = pid_n * NSUB + tl.arange(0, NSUB)
    out = offs_m[:, None] * stride_om + chunk_id[None, :]
    ok = (offs_m[:, None] < nq) & (chunk_id[None, :] < n_chunks)
    tl.store(m1_ptr + out, best, mask=ok)
    tl.store(a1_ptr + out, chunk_id[None, :] * SUB + arg, mask=ok)
    tl.store(m2_ptr + out, runner_up, mask=ok)


def chunk_top2(q: torch.Tensor, c: torch.Tensor, sub: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(b, d) x (n, d) -> best (b, m) fp32, its column (b, m) int32, runner-up (b, m) fp32 per sub-column chunk
    of q @ c.T (m = ceil(n / sub)); padding columns score -inf.

    fp16/bf16 inputs use fp16/bf16 tensor-core products, fp32 inputs tf32 ones; accumulation is fp32.
    """
    if BLOCK_N % sub:
        raise ValueError(f"chunk width {sub} must divide {BLOCK_N}")
    b, d = q.shape
    n = c.shape[0]
    m = triton.cdiv(n, sub)
    best = torch.empty((b, m), dtype=torch.float32, device=q.device)
    col = torch.empty((b, m), dtype=torch.int32, device=q.device)
    runner_up = torch.empty((b, m), dtype=torch.float32, device=q.device)
    block_m = 128
    grid = (triton.cdiv(b, block_m), triton.cdiv(n, BLOCK_N))
    fp32 = q.dtype == torch.float32
    _chunk_top2_kernel[grid](q, c, best, col, runner_up, b, n, d, m, q.stride(0), q.stride(1), c.stride(0),
                             c.stride(1), best.stride(0), BLOCK_M=block_m, BLOCK_N=BLOCK_N,
                             BLOCK_K=32 if fp32 else 64, SUB=sub, TF32=fp32, num_warps=8, num_stages=3)
    return best, col, runner_up
