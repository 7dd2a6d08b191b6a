"""Sparse encoders (SPLADE) in sentence-transformers' SparseEncoder layout, encoded as SparseEncoder.encode encodes
them: the text after its prompt through the masked-language-model network, each token's vocabulary logits through
log(1 + ReLU(x)) (log1p_relu: once more log1p), pooled over the text's tokens by max or sum (SpladePooling), then
only the max_active_dims largest values kept when the model sets it. A vector is one row of a scipy CSR matrix,
as wide as the vocabulary.

A SparseEncoder with a Router (separate query and document modules: inference-free SPLADE, whose queries are
static token weights) is encoded by sentence-transformers itself, per role (RoutedSparseModel).
"""

from __future__ import annotations

import copy
import functools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from spacekit.embed.delegated import DelegatedModel, load_st, st_config
from spacekit.embed.prompts import PromptChoice, resolve_prompt
from spacekit.embed.st_config import ModelConfig, Splade
from spacekit.embed.tokenizer import Tokenizer

if TYPE_CHECKING:
    import scipy.sparse as sp
    import torch

    from spacekit.backend import Placement

LOGIT_BYTES = 1 << 30   # vocabulary logits (batch x tokens x vocabulary, float32) of one forward pass at most


@dataclass
class SparseModel:
    """A SparseEncoder folder: a masked-language-model network, its tokenizer, and its SPLADE settings."""

    spec: str
    config: ModelConfig
    fingerprint: str
    dim: int
    path: Path
    tokenizer: Tokenizer
    net: torch.nn.Module
    placed_nets: dict = field(default_factory=dict)
    cacheable: ClassVar[bool] = True
    kind: ClassVar[str] = "sparse"

    @property
    def splade(self) -> Splade:
        """The pooling, activation and max_active_dims."""
        assert self.config.splade is not None
        return self.config.splade

    def cache_key(self, prompt: str = "") -> dict:
        """The model half of a store's cache key: the weights, every setting that shapes a vector, the prompt."""
        return {"model_fingerprint": self.fingerprint, **self.config.vector_settings(), "prompt": prompt,
                "vectors": "csr"}

    def prompt_for(self, role: str | None, choice: PromptChoice | None = None) -> str:
        """The prompt texts of this role are encoded with: the choice made, else the model's own."""
        return resolve_prompt(self.config, role, choice)

    def describe(self) -> dict:
        """Vocabulary size, max length, SPLADE pooling, similarity and prompts."""
        return {"dim": self.dim, "kind": "sparse", **self.config.description()}

    def encode(self, texts: list[str], *, ids: list[str] | None = None, prompt: str = "",
               placement: Placement | None = None, progress: bool = True) -> sp.csr_matrix:
        """(n, vocabulary) float32 CSR vectors of the texts after the prompt, in input order."""
        return encode_sparse(self, texts, prompt=prompt, placement=placement, progress=progress)


def encode_sparse(model: SparseModel, texts: list[str], *, prompt: str = "", placement: Placement | None = None,
                  progress: bool = True) -> sp.csr_matrix:
    """Texts -> (n, vocabulary) float32 CSR matrix, rows in input order; batches of at most LOGIT_BYTES of logits."""
    import scipy.sparse as sp
    import torch

    from spacekit.backend import Placement
    from spacekit.embed.batching import batches
    from spacekit.embed.encoder import default_batch_tokens
    from spacekit.embed.tokenizer import token_ids
    from spacekit.progress import REPORTER, progress_bar

    if not texts:
        return sp.csr_matrix((0, model.dim), dtype=np.float32)
    where = placement or Placement.resolve()
    net = _on_device(model, where.device, where.dtype)
    budget = min(where.batch_tokens or default_batch_tokens(where.device), max(1, LOGIT_BYTES // (4 * model.dim)))
    rows, parts = [], []
    start = time.perf_counter()
    with progress_bar(len(texts), progress) as advance, torch.inference_mode():
        for b in batches(functools.partial(model.tokenizer.encodings, prompt=prompt), texts, model.tokenizer.pad_id,
                         where.device, budget, to_ids=token_ids, left=model.config.padding_side == "left"):
            logits = net(input_ids=b.ids, attention_mask=b.mask).logits
            vec = splade_pool(logits.float(), b.mask, model.splade)
            rows.append(b.rows)
            parts.append(sp.csr_matrix(vec.cpu().numpy()))
            advance(len(b.rows))
    REPORTER.encoded(time.perf_counter() - start)
    order = np.argsort(np.concatenate(rows), kind="stable")
    out = sp.vstack(parts, format="csr")[order]
    out.sort_indices()
    return out.astype(np.float32)


def splade_pool(logits: torch.Tensor, mask: torch.Tensor, splade: Splade) -> torch.Tensor:
    """(b, t, vocabulary) logits + (b, t) 0/1 mask -> (b, vocabulary), as SpladePooling then max_active_dims. The
    logits are overwritten (in place, as SpladePooling does at inference: no copy of the largest tensor)."""
    import torch

    x = logits.mul_(mask.unsqueeze(-1).to(logits.dtype)).relu_().log1p_()
    if splade.activation == "log1p_relu":
        x = x.log1p_()
    vec = x.amax(dim=1) if splade.pooling == "max" else x.sum(dim=1)
    if splade.max_active_dims is not None and splade.max_active_dims < vec.shape[1]:
        top = torch.topk(vec.abs(), splade.max_active_dims, dim=1).indices
        vec = torch.zeros_like(vec).scatter_(1, top, vec.gather(1, top))
    return vec


def _on_device(model: SparseModel, dev: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    """The network on dev in dtype (fp16 / bf16 on a converted copy: the fp32 weights stay exact), kept."""
    import torch

    key = (str(dev), dtype)
    if key not in model.placed_nets:
        model.placed_nets.clear()
        net = model.net if dtype == torch.float32 else copy.deepcopy(model.net)
        model.placed_nets[key] = net.to(dev, dtype)
    return model.placed_nets[key]


@dataclass(eq=False)
class RoutedSparseModel(DelegatedModel):
    """A SparseEncoder with a Router (st), encoded by sentence-transformers (encode_query / encode_document), bound
    to a role when encoding (for_role)."""

    kind: ClassVar[str] = "sparse"

    def cache_key(self, prompt: str = "") -> dict:
        """The weights, the route, the max active dimensions and the prompt."""
        return {"model_fingerprint": self.fingerprint, "route": self.side,
                "max_active_dims": self.st.max_active_dims, "prompt": prompt, "vectors": "csr"}

    def describe(self) -> dict:
        """Vocabulary size, routes, max length, similarity and prompts."""
        return {"dim": self.dim, "kind": "sparse", "router": "query / document", **self.config.description()}

    def encode(self, texts: list[str], *, ids: list[str] | None = None, prompt: str = "",
               placement: Placement | None = None, progress: bool = True) -> sp.csr_matrix:
        """(n, vocabulary) float32 CSR vectors of the texts after the prompt, as the role's route encodes them."""
        import scipy.sparse as sp

        from spacekit.backend import Placement

        where = placement or Placement.resolve()
        if not texts:
            return sp.csr_matrix((0, self.dim), dtype=np.float32)
        out = self.encoder()(texts, prompt=prompt or None, batch_size=32, device=str(where.device),
                             convert_to_sparse_tensor=True, save_to_cpu=True).coalesce()
        rows, cols = out.indices().numpy()
        m = sp.csr_matrix((out.values().numpy().astype(np.float32), (rows, cols)), shape=(len(texts), self.dim))
        m.eliminate_zeros()
        m.sort_indices()
        return m


def load_routed_sparse(spec: str, path: Path, fingerprint: str) -> RoutedSparseModel:
    """A SparseEncoder folder with a Router, loaded by sentence-transformers (>= 5); an InputError when it is not
    installed or cannot load the folder."""
    st = load_st("SparseEncoder", path, "sparse encoder with a Router", ">= 5")
    return RoutedSparseModel(spec, fingerprint, int(st.get_embedding_dimension() or 0), path,
                             st_config(st, str(st.similarity_fn_name or "dot"), "router"), st)
