"""The Triton kernels compile for real GPUs with no GPU at hand: Triton's compiler runs on the CPU down to the cubin
(its ptxas ships in the wheel), so what the interpreter never checks — a name given two types by the branches of
a runtime `if`, a tile the hardware cannot lay out, a TMA descriptor of the wrong shape — fails here rather than on
the next GPU run. Hopper (sm_90: the persistent TMA kernel) and Ampere (sm_80: the pointer kernel)."""

from __future__ import annotations

import pytest

triton = pytest.importorskip("triton", reason="triton not installed: the kernels are compiled on GPUs only")

from spacekit.kernels import topk_triton as kt  # noqa: E402
from triton.backends.compiler import GPUTarget  # noqa: E402
from triton.compiler import ASTSource  # noqa: E402

pytestmark = pytest.mark.real  # Triton's compiler down to cubins

HOPPER, AMPERE = 90, 80
OUT3 = {"m1_ptr": "*fp32", "a1_ptr": "*i32", "m2_ptr": "*fp32"}


def _topk_signature(q: str, c: str) -> dict:
    return {"q_ptr": q, "c_ptr": c, "scale_ptr": "*fp32", **OUT3, "nq": "i32", "n": "i32", "d": "i32",
            "n_chunks": "i32", "stride_qm": "i32", "stride_qk": "i32", "stride_cn": "i32", "stride_ck": "i32",
            "stride_om": "i32"}


def _gather_signature(c: str, cols: str) -> dict:
    return {"q_ptr": "*fp32", "c_ptr": c, "cols_ptr": cols, "out_s_ptr": "*fp32",
            "out_c_ptr": "*i64", "n": "i32", "d": "i32", "n_cols": "i32", "stride_q": "i32", "stride_c": "i32",
            "stride_cols": "i32", "stride_out": "i32"}


def _persistent_case(dtype: str, scaled: bool):
    block_m, block_n, block_k, stages, warps = kt.CONFIGS["low"]
    signature = {"q_desc": f"tensordesc<{dtype}[{block_m}, {block_k}]>",
                 "c_desc": f"tensordesc<{dtype}[{block_n}, {block_k}]>", "scale_ptr": "*fp32", **OUT3,
                 "nq": "i32", "n": "i32", "d": "i32", "n_chunks": "i32", "stride_om": "i32"}
    constexprs = {"BLOCK_M": block_m, "BLOCK_N": block_n, "BLOCK_K": block_k, "SUB": 128, "PROGRAMS": 132,
                  "SCALED": scaled}
    return kt._chunk_top2_persistent_kernel, signature, constexprs, {"num_warps": warps, "num_stages": stages}


CASES = {
    "persistent fp16, scaled (Hopper)": (HOPPER, *_persistent_case("fp16", True)),
    "persistent bf16 (Hopper)": (HOPPER, *_persistent_case("bf16", False)),
    "pointer fp16, scaled (Ampere)": (AMPERE, kt._chunk_top2_kernel, _topk_signature("*fp16", "*fp16"),
                                      {"BLOCK_M": 128, "BLOCK_N": 256, "BLOCK_K": 64, "SUB": 256, "TF32": False,
                                       "SCALED": True}, {"num_warps": 8, "num_stages": 3}),
    "pointer fp32 / tf32 (Hopper)": (HOPPER, kt._chunk_top2_kernel, _topk_signature("*fp32", "*fp32"),
                                     dict(zip(["BLOCK_M", "BLOCK_N", "BLOCK_K"], kt.CONFIGS["fp32"][:3], strict=True))
                                     | {"SUB": 16, "TF32": True, "SCALED": False},
                                     {"num_stages": kt.CONFIGS["fp32"][3], "num_warps": kt.CONFIGS["fp32"][4]}),
    "candidate columns, fp16 rows (Hopper)": (HOPPER, kt._gather_dot_kernel, _gather_signature("*fp16", "*i32"),
                                              {"BLOCK_C": kt.BLOCK_C, "BLOCK_D": kt.BLOCK_D, "WRITE_COLS": True},
                                              {"num_warps": 4}),
    "candidate spans, fp32 rows (Hopper)": (HOPPER, kt._span_scores_kernel,
                                            {"q_ptr": "*fp32", "c_ptr": "*fp32", "spans_ptr": "*i64",
                                             "out_s_ptr": "*fp32", "out_c_ptr": "*i64", "n": "i32", "d": "i32",
                                             "first": "i32", "stride_q": "i32", "stride_c": "i32",
                                             "stride_spans": "i32", "stride_out": "i32"},
                                            {"SUB": 128, "SPAN_C": kt.BLOCK_C, "BLOCK_D": kt.BLOCK_D},
                                            {"num_warps": 4}),
    "gather-dot, fp32 rows (Ampere)": (AMPERE, kt._gather_dot_kernel, _gather_signature("*fp32", "*i64"),
                                       {"BLOCK_C": kt.BLOCK_C, "BLOCK_D": kt.BLOCK_D, "WRITE_COLS": False},
                                       {"num_warps": 4}),
    "unit rows fp32 -> fp16 (Hopper)": (HOPPER, kt._unit_rows_kernel,
                                        {"x_ptr": "*fp32", "low_ptr": "*fp16", "inv_ptr": "*fp32", "n": "i32",
                                         "d": "i32", "stride_x": "i32", "stride_low": "i32"},
                                        {"BLOCK_R": 8, "BLOCK_D": 1024, "WRITE": True}, {"num_warps": 4}),
    "row scales of fp16 rows (Hopper)": (HOPPER, kt._unit_rows_kernel,
                                         {"x_ptr": "*fp16", "low_ptr": "*fp32", "inv_ptr": "*fp32", "n": "i32",
                                          "d": "i32", "stride_x": "i32", "stride_low": "i32"},
                                         {"BLOCK_R": 8, "BLOCK_D": 1024, "WRITE": False}, {"num_warps": 4}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_kernel_compiles_to_a_cubin(case):
    capability, fn, signature, constexprs, options = CASES[case]
    for name in constexprs:
        signature[name] = "constexpr"
    source = ASTSource(fn=fn, signature=signature, constexprs=constexprs)
    compiled = triton.compile(source, target=GPUTarget("cuda", capability, 32), options=options)
    assert len(compiled.asm["cubin"]) > 1000
    assert compiled.metadata.num_warps == options["num_warps"]
