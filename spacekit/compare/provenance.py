"""What produced a report's numbers, as MTEB records its run settings: the versions of every installed library that
decides a number, Python and the platform, the device and precision the encoders ran on, the encode settings and
each model's fingerprint (its weights and every setting that changes a vector)."""

from __future__ import annotations

import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacekit.embed import EncodeOptions, Model

LIBRARIES = ("spacekit", "torch", "transformers", "tokenizers", "sentence-transformers", "numpy", "scipy",
             "scikit-learn", "pyarrow", "faiss-cpu", "faiss-gpu", "umap-learn", "ray", "triton", "bm25s", "PyStemmer")


@dataclass(frozen=True)
class Provenance:
    """The libraries (distribution name -> version, those installed), Python, the platform, the device and
    precision the models ran on, tokens per batch (None: the device's default), whether the embedding cache was
    used, each model's fingerprint ({"before": ..., "after": ...}) and each reranker's (its folder -> fingerprint)."""

    libraries: Mapping[str, str]
    python: str
    platform: str
    device: str
    precision: str
    batch_tokens: int | None
    cache: bool
    fingerprints: Mapping[str, str]
    rerankers: Mapping[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        """One line: 'spacekit 0.9.0, torch 2.13.0, transformers 5.2 on cpu (x86_64), fp32'."""
        shown = ", ".join(f"{name} {self.libraries[name]}" for name in ("spacekit", "torch", "transformers")
                          if name in self.libraries)
        return f"{shown} on {self.device}, {self.precision}"


def provenance(models: tuple[Model, Model], opts: EncodeOptions, rerankers: tuple[str, ...] = ()) -> Provenance:
    """The provenance of a comparison run with these models, encode options and reranker folders."""
    from pathlib import Path

    from spacekit.embed.model import _fingerprint

    placement = opts.placement
    return Provenance(libraries=installed_versions(), python=platform.python_version(),
                      platform=platform.platform(terse=True), device=device_name(placement.device),
                      precision=placement.precision, batch_tokens=placement.batch_tokens, cache=opts.use_cache,
                      fingerprints={"before": models[0].fingerprint, "after": models[1].fingerprint},
                      rerankers={r: _fingerprint(Path(r)) for r in dict.fromkeys(rerankers)})


def installed_versions(names: tuple[str, ...] = LIBRARIES) -> dict[str, str]:
    """{distribution: version} for each of names that is installed (read from its metadata, nothing imported)."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def device_name(device) -> str:
    """'cuda:0 (NVIDIA H100 80GB HBM3)' or 'cpu (x86_64)'."""
    if getattr(device, "type", str(device)) == "cuda":
        import torch

        return f"{device} ({torch.cuda.get_device_name(device)})"
    return f"{device} ({platform.machine() or 'unknown'})"
