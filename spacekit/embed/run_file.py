"""A first stage given as a TREC run file: when two rerankers are compared over it, it stands where a model would
(its rankings are read by the retrieval task; it has no vectors, so nothing is encoded through it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from spacekit.embed.prompts import PromptChoice
from spacekit.errors import InputError
from spacekit.files import file_digest

if TYPE_CHECKING:
    from spacekit.backend import Placement
    from spacekit.store.vectors import Vectors


@dataclass(eq=False)
class RunFileModel:
    """A TREC run file (qid Q0 docid rank score tag) as a first stage."""

    spec: str
    path: Path
    fingerprint: str
    dim: int = 0
    cacheable: ClassVar[bool] = False
    kind: ClassVar[str] = "run"

    def cache_key(self, prompt: str = "") -> dict:
        """The run file's sha256."""
        return {"run_fingerprint": self.fingerprint}

    def prompt_for(self, role: str | None, choice: PromptChoice | None = None) -> str:
        """No prompt: a run file encodes nothing."""
        return ""

    def describe(self) -> dict:
        """The run file."""
        return {"kind": "run", "run": str(self.path)}

    def encode(self, texts: list[str], *, ids: list[str] | None = None, prompt: str = "",
               placement: Placement | None = None, progress: bool = True) -> Vectors:
        """Never: a run file gives rankings, not vectors."""
        raise InputError(f"{self.path}: a run file gives rankings, not vectors")


def load_run_file(spec: str) -> RunFileModel:
    """The run file MODEL names (checked to be a regular file; its lines are read by the task)."""
    path = Path(spec)
    if not path.is_file():
        raise InputError(f"{path}: no such run file")
    return RunFileModel(spec, path, file_digest(path))
