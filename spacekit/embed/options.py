"""How a task turns texts into vectors: device, precision, batch size, prompts and the cache."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from spacekit.embed.prompts import PromptChoice

if TYPE_CHECKING:
    from spacekit.backend import Placement
    from spacekit.embed.model import Model
    from spacekit.store.vectors import Vectors


@dataclass(frozen=True)
class EncodeOptions:
    """Device, precision, tokens per batch, the user's prompts, and the embedding cache (the CLI's
    --device/--dtype/--batch-tokens, --prompt..., --cache-dir/--no-cache). device, dtype and batch_tokens are the
    request; `placement` is what they resolve to, once."""

    device: str | None = None
    dtype: str | None = None
    batch_tokens: int | None = None
    cache_dir: str | None = None
    use_cache: bool = True
    prompts: PromptChoice = field(default_factory=PromptChoice)
    reranker: str | None = None     # a cross-encoder folder over a retrieval task's own (compare's per-model one)

    @cached_property
    def placement(self) -> Placement:
        """The device, precision and batch size the request resolves to (an InputError for a bad one)."""
        from spacekit.backend import Placement

        return Placement.resolve(self.device, self.dtype, self.batch_tokens)

    def embed(self, model: Model, ids: list[str], texts: list[str], role: str | None = None) -> Vectors:
        """(n, d) float32 vectors through the per-model cache, each text after its role's prompt ("query",
        "document", or None for any other text)."""
        from spacekit.store.cache import embeddings

        if hasattr(model, "for_role"):             # a multi-vector model encodes queries and documents apart
            model = model.for_role(role)
        return embeddings(model, ids, texts, prompt=model.prompt_for(role, self.prompts), cache_dir=self.cache_dir,
                          use_cache=self.use_cache, placement=self.placement)

    def embed_unique(self, model: Model, *texts_lists: list[str], role: str | None = None) -> list[Vectors]:
        """Embed each distinct text once (its id: the text itself) and return one (n, d) array per list."""
        unique = list(dict.fromkeys(t for texts in texts_lists for t in texts))
        vec = self.embed(model, unique, unique, role)
        row = {t: i for i, t in enumerate(unique)}
        return [vec[[row[t] for t in texts]] for texts in texts_lists]

    def with_reranker(self, reranker: str | None) -> EncodeOptions:
        """These options with this model's reranker (None: the task's own)."""
        from dataclasses import replace

        return replace(self, reranker=reranker)

    def with_prompts(self, choice: PromptChoice) -> EncodeOptions:
        """These options with `choice` over the prompts chosen so far."""
        from dataclasses import replace

        return replace(self, prompts=choice.over(self.prompts))
