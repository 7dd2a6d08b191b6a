"""Multi-vector (late-interaction, ColBERT-style) models: a folder sentence-transformers' MultiVectorEncoder loads
(its own layout, and the PyLate and Stanford ColBERT checkpoints it converts), encoded by it — encode_query for
queries (query length and expansion as the model says), encode_document for documents (skiplist, document length)
— into one vector per kept token. spacekit owns what follows: the token store, the exact MaxSim search
(spacekit.ops.maxsim) and the comparison. Needs sentence-transformers >= 6 (the multivector extra).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from spacekit.embed.delegated import DelegatedModel, load_st, st_config
from spacekit.errors import InputError
from spacekit.store.vectors import TokenVectors

if TYPE_CHECKING:
    from spacekit.backend import Placement

BATCH = 32          # texts per forward pass (MultiVectorEncoder.encode's default)


@dataclass(eq=False)
class MultiVectorModel(DelegatedModel):
    """A MultiVectorEncoder (st), bound to a role (query or document: for_role) when encoding."""

    kind: ClassVar[str] = "multi-vector"

    def cache_key(self, prompt: str = "") -> dict:
        """The weights, the role (query and document encodings differ), the max length and the prompt."""
        return {"model_fingerprint": self.fingerprint, "role": self.side,
                "max_seq_length": self.config.max_seq_length, "prompt": prompt, "vectors": "tokens"}

    def describe(self) -> dict:
        """Token vector dimension, max length, prompts; similarity MaxSim."""
        return {"dim": self.dim, "kind": "multi-vector", "max_seq_length": self.config.max_seq_length,
                "similarity": "maxsim", "prompts": self.config.prompt_texts,
                "default_prompt_name": self.config.default_prompt_name}

    def token_count(self, texts: list[str], prompt: str = "") -> int:
        """Token vectors the texts would take at most (their tokens after the prompt, cut at the max length)."""
        tokenizer = self.st.tokenizer
        lengths = [len(ids) for ids in tokenizer([prompt + t for t in texts], truncation=True,
                                                 max_length=self.config.max_seq_length)["input_ids"]]
        return int(sum(lengths))

    def check_token_budget(self, texts: list[str], prompt: str, budget_gib: float) -> int:
        """Bytes the texts take as token vectors (float32), said before they are encoded; an InputError when that is
        over the budget (GiB)."""
        from spacekit.progress import stage

        tokens = self.token_count(texts, prompt)
        size = tokens * self.dim * 4
        if size > budget_gib * 2**30:
            raise InputError(f"{self.spec}: the corpus's {tokens:,} token vectors take {_bytes(size)}, over the token "
                             f"budget of {budget_gib:g} GiB (raise the task's token_budget)")
        with stage(f"token store: {len(texts):,} documents, {tokens:,} token vectors x {self.dim} = {_bytes(size)} "
                   f"(float32)"):
            pass
        return size

    def encode(self, texts: list[str], *, ids: list[str] | None = None, prompt: str = "",
               placement: Placement | None = None, progress: bool = True) -> TokenVectors:
        """Each text's token vectors, after the prompt, in input order, as the role's encode gives them."""
        from spacekit.backend import Placement

        where = placement or Placement.resolve()
        if not texts:
            return TokenVectors(np.zeros((0, self.dim), np.float32), np.zeros(1, np.int64))
        out = self.encoder()(texts, prompt=prompt or None, batch_size=BATCH, show_progress_bar=False,
                             device=str(where.device), convert_to_numpy=True)
        lengths = np.array([len(x) for x in out], np.int64)
        values = np.concatenate([np.asarray(x, np.float32).reshape(-1, self.dim) for x in out])
        return TokenVectors(values, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))


def load_multi_vector(spec: str, path: Path, fingerprint: str) -> MultiVectorModel:
    """A MultiVectorEncoder folder, loaded by sentence-transformers (>= 6); an InputError when it is not installed or
    cannot load the folder."""
    st = load_st("MultiVectorEncoder", path, "multi-vector model", ">= 6")
    return MultiVectorModel(spec, fingerprint, int(st.get_embedding_dimension() or 0), path,
                            st_config(st, "maxsim", "tokens"), st)

def _bytes(n: int) -> str:
    """n bytes in GiB (from 1 GiB) or MiB."""
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"
