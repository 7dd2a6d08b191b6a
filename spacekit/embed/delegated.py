"""Models sentence-transformers encodes for spacekit: kinds whose encoding spacekit does not reimplement (a
multi-vector model, a sparse encoder with a Router). Each is bound to a role (query or document) when encoding,
since the two are encoded apart; loading is sentence-transformers' own, on the CPU, any failure one InputError."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from spacekit.embed.prompts import PromptChoice, resolve_prompt
from spacekit.embed.st_config import ModelConfig
from spacekit.errors import InputError


@dataclass(eq=False)
class DelegatedModel:
    """A model object of sentence-transformers (st), its folder's fingerprint and settings, and the role its texts
    are encoded in (None: as documents)."""

    spec: str
    fingerprint: str
    dim: int
    path: Path
    config: ModelConfig          # prompts and max length (and the similarity, where it has one)
    st: Any
    role: str | None = None
    cacheable: ClassVar[bool] = True

    def for_role(self, role: str | None):
        """This model encoding as `role` does (queries: encode_query, anything else: encode_document)."""
        return dataclasses.replace(self, role=role)

    @property
    def side(self) -> str:
        """"query" or "document": which of sentence-transformers' encode methods this role takes."""
        return "query" if self.role == "query" else "document"

    def encoder(self):
        """sentence-transformers' encode_query or encode_document, as the role says."""
        return self.st.encode_query if self.side == "query" else self.st.encode_document

    def prompt_for(self, role: str | None, choice: PromptChoice | None = None) -> str:
        """The prompt texts of this role are encoded with: the choice made, else the model's own."""
        return resolve_prompt(self.config, role, choice)


def load_st(cls_name: str, path: Path, what: str, needs: str) -> Any:
    """sentence_transformers.<cls_name> loaded from the folder on the CPU, in eval mode; an InputError (one line)
    when sentence-transformers (`needs`: the version it takes) is missing or cannot load it as `what`."""
    try:
        import sentence_transformers
        cls = getattr(sentence_transformers, cls_name)
    except (ImportError, AttributeError):
        raise InputError(f"{path}: a {what} needs sentence-transformers {needs} (pip install "
                         f"'spacekit[multivector]')") from None
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    logging.getLogger("sentence_transformers").setLevel(logging.ERROR)    # its notes on loading are not ours
    try:
        st = cls(str(path), device="cpu", local_files_only=True)
    except Exception as e:  # sentence-transformers raises OSError, ValueError, KeyError... for a broken folder
        raise InputError(f"{path}: not a loadable {what} ({type(e).__name__}: "
                         f"{str(e).splitlines()[0] if str(e) else ''})") from None
    return st.eval()


def st_config(st: Any, similarity: str, pooling: str) -> ModelConfig:
    """The settings spacekit reports and keys the cache by, read off a loaded sentence-transformers model."""
    prompts = tuple((k, v or "") for k, v in (st.prompts or {}).items())
    return ModelConfig(pooling=pooling, max_seq_length=int(st.max_seq_length or 512), similarity=similarity,
                       prompts=prompts, default_prompt_name=st.default_prompt_name)
