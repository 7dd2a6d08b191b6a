"""Plots (matplotlib, PNG): joint 2-D projection before/after, per-item delta histograms, probe cosines.

Figures are made with matplotlib's object interface (no pyplot, no backend switch: drawing changes no global
state); every label that holds data text is escaped for matplotlib's mathtext.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spacekit.compare import Comparison
from spacekit.report.escape import plot_label


def make_plots(comparison: Comparison, out: Path) -> dict[str, Path]:
    """Write every plot that has data; returns name -> path."""
    paths = {}
    vec = comparison.plot_data.get("vectors") or {}
    if "before" in vec:
        paths["projection"] = _projection(vec, out / "projection.png", comparison.report["seed"])
    if comparison.report["tasks"]:
        paths["deltas"] = _deltas(comparison.report["tasks"], out / "deltas.png")
    if comparison.report["probes"]:
        paths["probes"] = _probes(comparison.report["probes"][0], out / "probes.png")
    return paths


def project_2d(x: np.ndarray, seed: int = 0) -> tuple[np.ndarray, str]:
    """(n, 2) coordinates: UMAP when umap-learn is installed, else t-SNE (n <= 3000), else PCA."""
    try:
        import umap
    except ImportError:
        umap = None
    if umap is not None:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "n_jobs overridden by random_state": we want the fixed seed
            reducer = umap.UMAP(n_components=2, random_state=seed, n_neighbors=min(15, len(x) - 1))
            return reducer.fit_transform(x), "UMAP"
    if len(x) <= 3000:
        from sklearn.manifold import TSNE

        return TSNE(2, random_state=seed, perplexity=min(30, (len(x) - 1) / 3), init="pca").fit_transform(x), "t-SNE"
    from sklearn.decomposition import PCA

    return PCA(2, random_state=seed).fit_transform(x), "PCA"


def _projection(vec: dict, path: Path, seed: int) -> Path:
    """One projection fitted jointly on both models' vectors, so the two panels share coordinates."""
    from matplotlib.figure import Figure

    n_show = min(400, len(vec["before"]))
    keep = np.random.default_rng(seed).choice(len(vec["before"]), n_show, replace=False)
    parts = [vec["before"][keep], vec["after"][keep]]
    n_probe = len(vec.get("probe_texts", []))
    if n_probe:
        parts += [vec["probe_before"], vec["probe_after"]]
    xy, method = project_2d(np.concatenate(parts).astype(np.float32), seed)
    fig = Figure(figsize=(11, 5))
    axes = fig.subplots(1, 2, sharex=True, sharey=True)
    for panel, (ax, title) in enumerate(zip(axes, ["before", "after"], strict=True)):
        pts = xy[panel * n_show:(panel + 1) * n_show]
        ax.scatter(pts[:, 0], pts[:, 1], s=6, alpha=0.45, color="#4c72b0", label="evaluation texts")
        if n_probe:
            base = 2 * n_show + panel * n_probe
            probe = xy[base:base + n_probe]
            for ia, ib in vec["probe_pairs"]:  # each probe pair joined by a line
                ax.plot(probe[[ia, ib], 0], probe[[ia, ib], 1], color="#dd8452", lw=1)
            ax.scatter(probe[:, 0], probe[:, 1], s=14, color="#dd8452", label="probe texts (pairs joined)")
        ax.set_title(f"{title} ({method}, fitted jointly)")
        ax.set_xticks([]), ax.set_yticks([])
    axes[0].legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return path


def _deltas(tasks: list[dict], path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4 * len(tasks), 3.2))
    axes = fig.subplots(1, len(tasks), squeeze=False)
    for ax, t in zip(axes[0], tasks, strict=True):
        d = np.asarray([v for v in t["delta_histogram"] if v is not None], float)
        d = d[np.isfinite(d)]                                            # undefined per-item changes are left out
        ax.hist(d, bins=30, color="#55a868")
        ax.axvline(0, color="black", lw=0.8)
        ax.set_title(plot_label(f"{t['name']}: per-item Δ {t['main_metric']}"), fontsize=9)
        ax.set_yscale("log")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return path


def _probes(probes: dict, path: Path) -> Path:
    from matplotlib.figure import Figure

    pairs = probes["pairs"]
    labels = [plot_label(f"{p['group']}: {p['text_a'][:22]} ⟷ {p['text_b'][:22]} ({p['expect']})") for p in pairs]
    y = np.arange(len(pairs))
    fig = Figure(figsize=(10, 0.32 * len(pairs) + 1.2))
    ax = fig.subplots()
    ax.barh(y - 0.2, [p["before"] for p in pairs], 0.4, label="before", color="#8c8c8c")
    ax.barh(y + 0.2, [p["after"] for p in pairs], 0.4, label="after", color="#4c72b0")
    ax.set_yticks(y, labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("cosine")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return path
