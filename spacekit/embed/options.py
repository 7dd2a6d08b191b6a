"""How a task turns texts into vectors: device, precision, batch size and the cache."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from spacekit.embed.model import Model


@dataclass(frozen=True)
class EncodeOptions:
    """Device, precision, tokens per batch, and the embedding cache (the CLI's --device/--dtype/--batch-tokens,
    --cache-dir/--no-cache)."""

    device: str | None = None
    dtype: str | None = None
    batch_tokens: int | None = None
    cache_dir: str | None = None
    use_cache: bool = True

    def embed(self, model: Model, ids: list[str], texts: list[str]) -> np.ndarray:
        """(n, d) float32 vectors through the per-model cache."""
        from spacekit.embed.cache import embeddings

        return embeddings(model, ids, texts, cache_dir=self.cache_dir, use_cache=self.use_cache,
                          device=self.device, dtype=self.dtype, batch_tokens=self.batch_tokens)

    def embed_unique(self, model: Model, *texts_lists: list[str]) -> list[np.ndarray]:
        """Embed each distinct text once (its id: the text itself) and return one (n, d) array per list."""
        unique = list(dict.fromkeys(t for texts in texts_lists for t in texts))
        vec = self.embed(model, unique, unique)
        row = {t: i for i, t in enumerate(unique)}
        return [vec[[row[t] for t in texts]] for texts in texts_lists]
