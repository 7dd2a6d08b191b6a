"""A task = data + model -> per-item scores + aggregate metrics, one interface for every kind."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spacekit.cache import embeddings
from spacekit.encode import Model
from spacekit.errors import InputError


@dataclass(frozen=True)
class EncodeOptions:
    """How a task turns texts into vectors: device, precision, batch size and the cache."""

    device: str | None = None
    dtype: str | None = None
    batch_tokens: int | None = None
    cache_dir: str | None = None
    use_cache: bool = True

    def embed(self, model: Model, ids: list[str], texts: list[str]) -> np.ndarray:
        """(n, d) float32 vectors through the per-model cache."""
        return embeddings(model, ids, texts, cache_dir=self.cache_dir, use_cache=self.use_cache,
                          device=self.device, dtype=self.dtype, batch_tokens=self.batch_tokens)


@dataclass
class TaskResult:
    """Aggregate metrics plus the per-item values behind them (what the paired statistics resample)."""

    kind: str
    name: str
    dataset: str
    model: str
    metrics: dict[str, float]
    item_ids: list[str]
    per_item: dict[str, np.ndarray]
    extra: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.item_ids)

    def as_json(self) -> dict:
        """The DESIGN.md shape: {task, model, dataset, n, metrics, ...extra scalars}."""
        out = {"task": self.kind, "model": self.model, "dataset": self.dataset, "n": self.n,
               "metrics": {k: float(v) for k, v in self.metrics.items()}}
        out.update({k: v for k, v in self.extra.items() if isinstance(v, (int, float, str, bool))})
        return out


DEFAULT_KS = (1, 3, 5, 10, 100, 1000)


def retrieval_metric_names(ks=DEFAULT_KS) -> list[str]:
    """ndcg/recall/mrr/map/precision/hit at every k."""
    return [f"{m}@{k}" for m in ("ndcg", "recall", "mrr", "map", "precision", "hit") for k in ks]


@dataclass
class RetrievalTask:
    """Embed corpus and queries, exact top-k search, trec_eval metrics per query."""

    data: str | Path
    split: str = "test"
    metrics: list[str] = field(default_factory=lambda: retrieval_metric_names())
    depth: int = 1000
    similarity: str = "cosine"
    all_queries: bool = False
    name: str = ""
    kind: str = "retrieval"
    backend: str = "spacekit"  # or "faiss": an exact faiss flat index (optional dependency)

    def run(self, model: Model, opts: EncodeOptions = EncodeOptions()) -> TaskResult:
        """Evaluate `model`; the ranked run is kept in extra['run'] and per-query texts in extra['texts']."""
        from spacekit.io.beir import read_beir
        from spacekit.metrics.retrieval import Judgements, RankedRun, evaluate
        from spacekit.ops import topk

        if self.depth < 1:
            raise InputError(f"retrieval depth must be >= 1, got {self.depth}")
        if self.backend not in ("spacekit", "faiss"):
            raise InputError(f"search backend must be 'spacekit' or 'faiss', got {self.backend!r}")
        data = read_beir(self.data, self.split)
        docs = opts.embed(model, data.corpus.ids, data.corpus.texts)      # (n, d)
        queries = opts.embed(model, data.queries.ids, data.queries.texts)  # (nq, d)
        if self.backend == "faiss":
            from spacekit.ops.faiss_search import faiss_topk

            scores, idx = faiss_topk(queries, docs, self.depth, metric=self.similarity)
        else:
            scores, idx = topk(queries, docs, self.depth, metric=self.similarity, device=opts.device)
        run = RankedRun(data.queries.ids, np.array(data.corpus.ids, dtype=object), idx.numpy(),
                        scores.numpy().astype(np.float64), ordered=True)
        judged = Judgements.build(data.qrels, {d: c for c, d in enumerate(data.corpus.ids)})
        result = evaluate(judged, run, self.metrics, all_queries=self.all_queries)
        return TaskResult(self.kind, self.name or data.name, str(self.data), model.spec, result.means(),
                          result.query_ids, result.per_query,
                          {"split": self.split, "skipped_queries": result.skipped, "run": run,
                           "first_relevant_rank": result.first_relevant_rank,
                           "item_texts": {q: [t] for q, t in zip(data.queries.ids, data.queries.texts, strict=True)}})


def _unique_embed(opts: EncodeOptions, model: Model, *texts_lists: list[str]) -> list[np.ndarray]:
    """Embed each distinct text once (ids = the text itself) and return one (n, d) array per list."""
    unique = list(dict.fromkeys(t for texts in texts_lists for t in texts))
    vec = opts.embed(model, unique, unique)
    row = {t: i for i, t in enumerate(unique)}
    return [vec[[row[t] for t in texts]] for texts in texts_lists]


@dataclass
class StsTask:
    """Cosine similarity of each pair against gold scores: Spearman and Pearson."""

    data: str | Path
    name: str = ""
    kind: str = "sts"

    def run(self, model: Model, opts: EncodeOptions = EncodeOptions()) -> TaskResult:
        """Per pair: the cosine (per_item['similarity']) and the gold score (extra['gold'])."""
        from spacekit.io.sts import read_sts
        from spacekit.metrics.sts import correlations
        from spacekit.ops.similarity import pairwise_cosine

        pairs = read_sts(self.data)
        a, b = _unique_embed(opts, model, pairs.sentence1, pairs.sentence2)
        sim = pairwise_cosine(a, b).numpy()                                       # (n,)
        texts = {i: [s1, s2] for i, s1, s2 in zip(pairs.ids, pairs.sentence1, pairs.sentence2, strict=True)}
        return TaskResult(self.kind, self.name or Path(self.data).name, str(self.data), model.spec,
                          correlations(sim, pairs.score), pairs.ids, {"similarity": sim},
                          {"gold": pairs.score, "item_texts": texts})


@dataclass
class ClassificationTask:
    """Logistic-regression probe on the embeddings (MTEB protocol by default, or the full train set)."""

    train: str | Path
    test: str | Path
    protocol: str = "mteb"
    text_field: str = "text"
    label_field: str | None = None
    name: str = ""
    kind: str = "classification"

    def run(self, model: Model, opts: EncodeOptions = EncodeOptions()) -> TaskResult:
        """Per test item: the fraction of experiments that classify it right (per_item['accuracy'])."""
        from spacekit.io.labelled import read_labelled
        from spacekit.metrics.classification import ClassificationProtocol, linear_probe

        if self.protocol not in {"mteb", "full"}:
            raise InputError(f"classification protocol must be mteb or full, got {self.protocol!r}")
        train = read_labelled(self.train, text_field=self.text_field, label_field=self.label_field)
        test = read_labelled(self.test, text_field=self.text_field, label_field=self.label_field)
        x_train, x_test = _unique_embed(opts, model, train.texts, test.texts)
        protocol = ClassificationProtocol(full=self.protocol == "full")
        metrics, correct = linear_probe(x_train, np.array(train.labels), x_test, np.array(test.labels), protocol)
        return TaskResult(self.kind, self.name or Path(self.test).name, str(self.test), model.spec, metrics,
                          test.ids, {"accuracy": correct},
                          {"protocol": self.protocol,
                           "item_texts": {i: [t] for i, t in zip(test.ids, test.texts, strict=True)}})


@dataclass
class ClusteringTask:
    """k-means with k = number of labels, scored by V-measure, NMI and ARI."""

    data: str | Path
    text_field: str = "text"
    label_field: str | None = None
    seed: int = 42
    n_init: int = 5
    name: str = ""
    kind: str = "clustering"

    def run(self, model: Model, opts: EncodeOptions = EncodeOptions()) -> TaskResult:
        """Per item: whether its cluster's majority label equals its own (per_item['purity'])."""
        from spacekit.io.labelled import read_labelled
        from spacekit.metrics.clustering import cluster_scores
        from spacekit.ops.kmeans import kmeans

        data = read_labelled(self.data, text_field=self.text_field, label_field=self.label_field)
        (x,) = _unique_embed(opts, model, data.texts)
        gold = np.unique(np.array(data.labels), return_inverse=True)[1]
        labels, _ = kmeans(x, int(gold.max()) + 1, n_init=self.n_init, seed=self.seed, device=opts.device)
        pred = labels.numpy()
        majority = {c: np.bincount(gold[pred == c]).argmax() for c in np.unique(pred)}
        purity = np.array([gold[i] == majority[pred[i]] for i in range(len(gold))], dtype=float)
        return TaskResult(self.kind, self.name or Path(self.data).name, str(self.data), model.spec,
                          cluster_scores(gold, pred), data.ids, {"purity": purity},
                          {"k": int(gold.max()) + 1, "seed": self.seed, "pred": pred, "gold": gold,
                           "item_texts": {i: [t] for i, t in zip(data.ids, data.texts, strict=True)}})


@dataclass
class GeometryTask:
    """Shape of the space over a set of texts: uniformity, anisotropy, effective rank (+ alignment on pairs)."""

    data: str | Path
    pairs: str | Path | None = None
    text_field: str = "text"
    name: str = ""
    kind: str = "geometry"

    def run(self, model: Model, opts: EncodeOptions = EncodeOptions()) -> TaskResult:
        """Metrics of the space; the vectors themselves in extra['vectors'] (for drift between models)."""
        from spacekit.io.texts import read_texts
        from spacekit.ops import geometry

        texts = read_texts(self.data, text_field=self.text_field)
        x = opts.embed(model, texts.ids, texts.texts)
        dev = opts.device
        metrics = {"uniformity": geometry.uniformity(x, device=dev), "anisotropy": geometry.anisotropy(x, device=dev),
                   "effective_rank": geometry.effective_rank(x, device=dev)}
        item_ids, per_item = texts.ids, {}
        if self.pairs:  # per-item values are then per positive pair
            pairs = _read_pairs(self.pairs)
            a, b = _unique_embed(opts, model, pairs.sentence1, pairs.sentence2)
            metrics["alignment"] = geometry.alignment(a, b, device=dev)
            item_ids, per_item = pairs.ids, {"alignment": np.linalg.norm(a.astype(np.float64) - b, axis=1) ** 2}
        return TaskResult(self.kind, self.name or Path(self.data).name, str(self.data), model.spec, metrics,
                          item_ids, per_item, {"vectors": x, "text_ids": texts.ids, "n_texts": len(texts.ids),
                                               "texts": texts.texts})


def _read_pairs(path: str | Path):
    """Positive pairs: an STS-style file (sentence1, sentence2[, score]) or a probe-style one (text_a, text_b)."""
    from spacekit.io.sts import StsPairs
    from spacekit.io.tables import field, read_rows

    path = Path(path)
    rows = list(read_rows(path))
    key_a, key_b = ("text_a", "text_b") if rows and "text_a" in rows[0][1] else ("sentence1", "sentence2")
    s1 = [field(path, n, r, key_a) for n, r in rows]
    s2 = [field(path, n, r, key_b) for n, r in rows]
    if not s1:
        raise InputError(f"{path}: no pairs")
    return StsPairs([f"{path.name}:{n}" for n, _ in rows], s1, s2, np.zeros(len(s1)))


@dataclass
class ProbesTask:
    """Cosine of each probe pair, and per group whether every close pair beats every far one."""

    data: str | Path = "builtin"
    name: str = ""
    kind: str = "probes"

    def run(self, model: Model, opts: EncodeOptions = EncodeOptions()) -> TaskResult:
        """Per pair cosine (per_item['cosine']); per-group verdicts in extra['groups']."""
        from spacekit.ops.similarity import pairwise_cosine
        from spacekit.probes import group_verdicts, read_probes

        probes = read_probes(self.data)
        a, b = _unique_embed(opts, model, probes.text_a, probes.text_b)
        cos = pairwise_cosine(a, b).numpy()
        groups = group_verdicts(probes, cos)
        close = np.array([e == "close" for e in probes.expect])
        metrics = {"groups_passed": sum(g["passed"] for g in groups.values()) / len(groups),
                   "mean_close_cosine": float(cos[close].mean()) if close.any() else 0.0,
                   "mean_far_cosine": float(cos[~close].mean()) if (~close).any() else 0.0}
        return TaskResult(self.kind, self.name or str(self.data), str(self.data), model.spec, metrics, probes.ids,
                          {"cosine": cos}, {"groups": groups, "probes": probes,
                                            "item_texts": {i: [a_, b_] for i, a_, b_ in zip(
                                                probes.ids, probes.text_a, probes.text_b, strict=True)}})
