"""Model folder -> vectors: model loading (model.py, st_config.py), tokenizer, batching, encoder, the Parquet store
and the embedding cache. Imports nothing above it (io, metrics, tasks, compare)."""

from spacekit.embed.model import Model, StoreModel, TransformerModel, encode, load_model
from spacekit.embed.options import EncodeOptions

__all__ = ["EncodeOptions", "Model", "StoreModel", "TransformerModel", "encode", "load_model"]
