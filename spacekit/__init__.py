"""spacekit: did fine-tuning improve this embedding model? Evidence from paired before/after evaluation.

Layers, each importing only those below it (pyproject.toml's import-linter contract; tests/test_house_rules.py):
    cli -> report | demo -> compare -> ab -> tasks -> distributed -> metrics | ops | embed | io | stats -> store
    -> ranked_run | backend | files | practical | records | progress -> errors | escape | settings | version
and spacekit.kernels (kernels/src) below them all, importing nothing of spacekit.
Importing spacekit changes no environment variable or global state; the CLI sets its process defaults itself.
"""

from spacekit.version import __version__ as __version__


def _source_tree_kernels() -> None:
    """In a source checkout run with PYTHONPATH=. (not installed), make kernels/src importable as spacekit.kernels.

    kernels/ itself has no __init__.py, so it never shadows an installed top-level `kernels` package (Hugging Face's,
    which transformers imports) when Python runs from the repository root.
    """
    import importlib.util
    import sys
    from pathlib import Path

    if importlib.util.find_spec("spacekit.kernels") is not None:
        return
    folder = Path(__file__).resolve().parent.parent / "kernels" / "src"
    if (folder / "__init__.py").is_file():
        spec = importlib.util.spec_from_file_location("spacekit.kernels", folder / "__init__.py",
                                                      submodule_search_locations=[str(folder)])
        if spec is None or spec.loader is None:
            return
        module = importlib.util.module_from_spec(spec)
        sys.modules["spacekit.kernels"] = module
        spec.loader.exec_module(module)
        globals()["kernels"] = module


_source_tree_kernels()


def load_model(spec, **kwargs):
    """Load a model folder, `builtin:minilm`, or `store:DIR` (see spacekit.embed.load_model)."""
    from spacekit.embed import load_model as _load

    return _load(spec, **kwargs)
