"""Fused similarity + chunk-max kernel (Triton): scores of a (BLOCK_M x BLOCK_N) tile are accumulated on the
tensor cores and reduced to one maximum per query row and BLOCK_N-column chunk, so the (nq x n) score matrix is
never written to device memory. ops.topk then picks the best chunks per query and re-scores their columns in fp32.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

BLOCK_N = 64  # columns per chunk: the pre-selection granularity


@triton.jit
def _chunk_max_kernel(q_ptr, c_ptr, out_ptr, nq, n, d, stride_qm, stride_qk, stride_cn, stride_ck, stride_om,
                      BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
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
    tl.store(out_ptr + offs_m * stride_om + pid_n, tl.max(acc, axis=1), mask=offs_m < nq)


def chunk_max(q: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """(b, d) x (n, d) -> (b, ceil(n / BLOCK_N)) float32: max of q @ c.T over each BLOCK_N-column chunk.

    fp16/bf16 inputs use fp16/bf16 tensor-core products, fp32 inputs tf32 ones; accumulation is fp32.
    """
    b, d = q.shape
    n = c.shape[0]
    chunks = triton.cdiv(n, BLOCK_N)
    out = torch.empty((b, chunks), dtype=torch.float32, device=q.device)
    block_m = 128
    grid = (triton.cdiv(b, block_m), chunks)
    _chunk_max_kernel[grid](q, c, out, b, n, d, q.stride(0), q.stride(1), c.stride(0), c.stride(1), out.stride(0),
                            BLOCK_M=block_m, BLOCK_N=BLOCK_N, BLOCK_K=64 if q.dtype != torch.float32 else 32,
                            TF32=q.dtype == torch.float32, num_warps=4, num_stages=3)
    return out
