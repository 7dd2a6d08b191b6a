"""spacekit: did fine-tuning improve this embedding model? Evidence from paired before/after evaluation."""

__version__ = "0.1.0"


def load_model(spec, **kwargs):
    """Load a model folder, `builtin:minilm`, or `store:DIR` (see spacekit.encode.load_model)."""
    from spacekit.encode import load_model as _load

    return _load(spec, **kwargs)
