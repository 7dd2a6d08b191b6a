"""What runs on a Ray worker for `embed --ray`: the tokeniser stage (a CPU task per shard block) and the encoder
actors, each of which encodes a block and writes its shard into the store folder itself."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import ray

from spacekit.errors import InputError
from spacekit.store.vectors import Vectors


@functools.cache
def _tokenizer(spec: str, trust_remote_code: bool):
    from spacekit.embed.model import load_tokenizer

    return load_tokenizer(spec, trust_remote_code=trust_remote_code)


def tokenize_block(spec: str, trust_remote_code: bool, texts: list[str], prompt: str) -> tuple[np.ndarray, np.ndarray]:
    """On a CPU worker: a block's token ids (prompt included, as the model's tokenizer gives them) as one flat int32
    array and the texts' lengths (numpy arrays travel through Ray's object store without a copy)."""
    ids = _tokenizer(spec, trust_remote_code).ids(texts, prompt)
    lengths = np.fromiter(map(len, ids), np.int64, len(ids))
    flat = np.fromiter((t for row in ids for t in row), np.int32, int(lengths.sum()))
    return flat, lengths


def token_lists(tokens: tuple[np.ndarray, np.ndarray]) -> list[list[int]]:
    """tokenize_block's arrays back into one id list per text."""
    flat, lengths = tokens
    return [part.tolist() for part in np.split(flat, np.cumsum(lengths)[:-1])] if len(lengths) else []


class Encoder:
    """One encoder actor: its own copy of the model; encodes a shard block and writes the shard."""

    def __init__(self, spec: str, trust_remote_code: bool, placement: tuple[str, str | None, int | None],
                 threads: int = 1):
        import torch

        from spacekit.backend import Placement
        from spacekit.embed import load_model

        torch.set_num_threads(threads)                      # Ray gives an actor as many threads as CPUs it holds
        self.model = load_model(spec, trust_remote_code=trust_remote_code)
        self.placement = Placement.resolve(*placement)     # (device, dtype, batch tokens), resolved on its node

    def write(self, store: str, number: int, ids: list[str], block, prompt: str, dtype: str,
              fail_once: str | None = None) -> dict:
        """Encode the block (texts, or tokenize_block's arrays) and write shard `number` of the store -> its
        manifest entry plus the file's size ("bytes") for the driver to check; a bad result comes back as
        {"error": one line} (an exception would come back with the worker's traceback)."""
        if fail_once and not Path(fail_once).exists():      # the tests' hook: this actor dies once
            Path(fail_once).touch()
            os._exit(1)
        from spacekit.embed.encoder import encode_tokens
        from spacekit.embed.model import TransformerModel
        from spacekit.store.write import write_shard

        try:
            if isinstance(block, tuple) and isinstance(self.model, TransformerModel):   # the driver's tokeniser stage
                vec: Vectors = encode_tokens(self.model, token_lists(block), prompt=prompt, placement=self.placement,
                                    progress=False)
            else:
                vec = self.model.encode(block, ids=ids, prompt=prompt, placement=self.placement, progress=False)
            entry = write_shard(Path(store), number, ids, vec, self.model.dim, dtype)
        except InputError as e:
            return {"error": str(e)}
        except OSError as e:                                # e.g. the store folder is not on this worker's node
            return {"error": f"{store}: a worker cannot write shard {number} ({e.strerror or e}): the store folder "
                             f"must be on a filesystem every worker shares"}
        return {**entry, "bytes": (Path(store) / entry["file"]).stat().st_size}

    @ray.method(concurrency_group="ping")
    def alive(self) -> bool:
        """Answered from its own thread (concurrency group "ping") while a block is encoding."""
        return True
