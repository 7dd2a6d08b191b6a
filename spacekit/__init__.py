"""spacekit: did fine-tuning improve this embedding model? Evidence from paired before/after evaluation."""

import os

__version__ = "0.1.0"
# OpenBLAS (numpy's BLAS, which spacekit's CPU top-k uses where it is faster) lets its idle threads spin for ~0.1 s
# after each product, halving the speed of the selection that follows on a small machine. A short spin costs the
# products nothing. Takes effect when spacekit is imported before numpy/torch (the CLI always is).
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")


def _source_tree_kernels() -> None:
    """In a source checkout run with PYTHONPATH=. (not installed), make kernels/ importable as spacekit.kernels."""
    import importlib.util
    import sys
    from pathlib import Path

    if importlib.util.find_spec("spacekit.kernels") is not None:
        return
    folder = Path(__file__).resolve().parent.parent / "kernels"
    if (folder / "__init__.py").is_file():
        spec = importlib.util.spec_from_file_location("spacekit.kernels", folder / "__init__.py",
                                                      submodule_search_locations=[str(folder)])
        module = importlib.util.module_from_spec(spec)
        sys.modules["spacekit.kernels"] = module
        spec.loader.exec_module(module)
        globals()["kernels"] = module


_source_tree_kernels()


def load_model(spec, **kwargs):
    """Load a model folder, `builtin:minilm`, or `store:DIR` (see spacekit.encode.load_model)."""
    from spacekit.encode import load_model as _load

    return _load(spec, **kwargs)
