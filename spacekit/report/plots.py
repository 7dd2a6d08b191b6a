"""Plots (matplotlib, PNG): joint 2-D projection before/after, per-item delta histograms, probe cosines.

Figures are made with matplotlib's object interface (no pyplot, no backend switch: drawing changes no global
state); every label that holds data text is escaped for matplotlib's mathtext.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spacekit.compare import Comparison
from spacekit.compare.drift import SpaceSample
from spacekit.compare.entry import TaskEntry
from spacekit.escape import plot_label
from spacekit.tasks.sections import wrapped

PROJECTED = 600     # texts drawn in the projection, shared equally among the tasks
PROBE_MOVE = 0.05   # a probe pair is drawn when its cosine moved at least this much
PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c", "#ccb974",
           "#64b5cd")


def make_plots(comparison: Comparison, out: Path) -> dict[str, Path]:
    """Write every plot that has data (the projection, the per-item changes, each observed section's figure: the
    first of a kind under the kind's section name, the next ones numbered); returns name -> path."""
    paths = {}
    if comparison.space is not None:
        paths["projection"] = _projection(comparison.space, out / "projection.png", comparison.seed)
    if comparison.tasks:
        paths["deltas"] = _deltas(comparison.tasks, out / "deltas.png")
    cut = [t for t in comparison.tasks if t.threshold is not None]
    if cut:
        paths["thresholds"] = _thresholds(cut, out / "thresholds.png")
    for key, sections in comparison.observed.items():
        for i, section in enumerate(sections):
            fig = section.figure()
            if fig is not None:
                name = key if i == 0 else f"{key}-{i + 1}"
                save_figure(fig, out / f"{name}.png")
                paths[name] = out / f"{name}.png"
    return paths


def save_figure(fig, path: Path) -> None:
    """The figure as a PNG at path, written atomically (a killed run never leaves half an image)."""
    from spacekit.files import atomic_open

    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=90)


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


def _projection(vec: SpaceSample, path: Path, seed: int) -> Path:
    """One projection fitted jointly on both models' vectors (the two panels share coordinates; models of different
    dimensions get one each), on a sample stratified by task and coloured by it; the probe pairs whose cosine moved
    most are drawn joined."""
    from matplotlib.figure import Figure

    groups = np.asarray(vec.groups or ["texts"] * len(vec.before), dtype=object)
    names = list(dict.fromkeys(groups))
    rng = np.random.default_rng(seed)
    keep = np.concatenate([rng.permutation(np.flatnonzero(groups == g))[:PROJECTED // len(names)] for g in names])
    moved = _moved_probe_pairs(vec)
    probe_rows = sorted({i for pair in moved for i in pair})
    panels = [np.concatenate([x[keep], *([probe[probe_rows]] if probe_rows and probe is not None else [])])
              .astype(np.float32) for x, probe in ((vec.before, vec.probe_before), (vec.after, vec.probe_after))]
    n, m = len(keep), len(probe_rows)
    joint = panels[0].shape[1] == panels[1].shape[1]
    if joint:
        xy, method = project_2d(np.concatenate(panels), seed)
        coords = [xy[:n + m], xy[n + m:]]
    else:                                       # models of different dimensions: one projection each
        (xb, method), (xa, _) = project_2d(panels[0], seed), project_2d(panels[1], seed)
        coords = [xb, xa]
    at = {row: j for j, row in enumerate(probe_rows)}
    fig = Figure(figsize=(12, 5.5), layout="constrained")
    axes = fig.subplots(1, 2, sharex=joint, sharey=joint)
    for panel, (ax, title) in enumerate(zip(axes, ["before", "after"], strict=True)):
        pts = coords[panel][:n]
        for c, g in enumerate(names):
            sel = groups[keep] == g
            ax.scatter(pts[sel, 0], pts[sel, 1], s=6, alpha=0.5, label=plot_label(wrapped(str(g), 30)),
                       color=PALETTE[c % len(PALETTE)])
        if m:
            probe = coords[panel][n:]
            for ia, ib in moved:
                ax.plot(probe[[at[ia], at[ib]], 0], probe[[at[ia], at[ib]], 1], color="black", lw=1)
            ax.scatter(probe[:, 0], probe[:, 1], s=16, color="black",
                       label=f"probe pairs that moved most (|Δcos| ≥ {PROBE_MOVE})")
        ax.set_title(f"{title} ({method}, {'fitted jointly' if joint else 'fitted per model: dimensions differ'})")
        ax.set_xticks([]), ax.set_yticks([])
    axes[0].legend(loc="best", fontsize=7, markerscale=2)
    save_figure(fig, path)
    return path


def _moved_probe_pairs(vec: SpaceSample, at_most: int = 8) -> list[tuple[int, int]]:
    """The probe pairs (row indices) whose cosine changed by at least PROBE_MOVE, the largest changes first."""
    from spacekit.ops.similarity import pairwise_cosine

    pairs = vec.probe_pairs
    if not pairs or vec.probe_before is None or vec.probe_after is None:
        return []
    first, second = [a for a, _ in pairs], [b for _, b in pairs]
    moved = (pairwise_cosine(vec.probe_after[first], vec.probe_after[second])
             - pairwise_cosine(vec.probe_before[first], vec.probe_before[second])).abs().numpy()
    return [pairs[i] for i in np.argsort(-moved, kind="stable") if moved[i] >= PROBE_MOVE][:at_most]


def _deltas(tasks: tuple[TaskEntry, ...], path: Path) -> Path:
    """Per task, the histogram of the items that changed (the unchanged ones counted in the title: a zero bin
    holding most items would flatten the rest)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4 * len(tasks), 3.4), layout="constrained")
    axes = fig.subplots(1, len(tasks), squeeze=False)
    for ax, t in zip(axes[0], tasks, strict=True):
        h = t.delta_histogram
        ax.stairs(np.asarray(h.counts), np.asarray(h.edges), fill=True, color="#55a868")
        ax.axvline(0, color="black", lw=0.8)
        ax.set_xlabel(plot_label(f"Δ {t.main_metric} per item (+: better after)"), fontsize=8)
        ax.set_ylabel("items", fontsize=8)
        ax.set_title(plot_label(f"{wrapped(t.name, 40)}\n{h.ties} of {h.n} unchanged (not drawn)"), fontsize=9)
    save_figure(fig, path)
    return path


def _thresholds(tasks: list[TaskEntry], path: Path) -> Path:
    """Per task with scored pairs, both models' score histograms overlaid (positives solid, negatives dashed, each
    as shares of its own pairs), the given cut-off and its after-model counterparts, or the best-F1 cut-offs."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.4 * len(tasks), 3.4), layout="constrained")
    axes = fig.subplots(1, len(tasks), squeeze=False)
    for ax, t in zip(axes[0], tasks, strict=True):
        th = t.threshold
        assert th is not None
        h, edges = th.histogram, np.asarray(th.histogram.edges)
        for counts, colour, style, label in ((h.before_positive, PALETTE[0], "-", "before, positives"),
                                             (h.before_negative, PALETTE[0], "--", "before, negatives"),
                                             (h.after_positive, PALETTE[1], "-", "after, positives"),
                                             (h.after_negative, PALETTE[1], "--", "after, negatives")):
            share = np.asarray(counts) / max(1, sum(counts))      # positives are few in retrieval: each class apart
            ax.stairs(share, edges, color=colour, linestyle=style, label=label)
        if th.given is not None:
            ax.axvline(th.given, color=PALETTE[0], lw=1.2, label=f"your cut-off {th.given:g}")
            if th.equal_precision is not None and th.equal_precision.value is not None:
                ax.axvline(th.equal_precision.value, color=PALETTE[1], lw=1.2,
                           label=f"after, equal precision {th.equal_precision.value:.2f}")
        else:
            for cut, colour, which in ((th.best_f1_before, PALETTE[0], "before"), (th.best_f1_after, PALETTE[1],
                                                                                   "after")):
                if cut.value is not None:
                    ax.axvline(cut.value, color=colour, lw=1.2, label=f"best F1 {which} {cut.value:.2f}")
        ax.set_xlabel("similarity", fontsize=8)
        ax.set_ylabel("share of the class's pairs", fontsize=8)
        ax.set_title(plot_label(wrapped(t.name, 40)), fontsize=9)
        ax.legend(fontsize=6, loc="upper left")
    save_figure(fig, path)
    return path
