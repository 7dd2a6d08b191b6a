"""Model folder -> vectors: model loading (model.py, st_config.py), prompts, tokenizer, batching, the encoder (in
the backend.Placement it is given) and the options a task encodes with. The stores and the cache are
spacekit.store's."""

from spacekit.embed.model import Model, StoreModel, TransformerModel, encode, load_model
from spacekit.embed.options import EncodeOptions

__all__ = ["EncodeOptions", "Model", "StoreModel", "TransformerModel", "encode", "load_model"]
