"""`spacekit eval retrieval|run|sts|classification|clustering|probes`, one command derived from each other tested
kind (eval pair-classification, and any kind added to spacekit/tasks/: spacekit.cli.kind_command), and
`spacekit geometry` (thin: parse, call the library, print a table or JSON)."""

from __future__ import annotations

import click

from spacekit.cli.common import (
    cache_options,
    device_options,
    emit_json,
    model_and_options,
    plain,
    print_metrics,
    prompt_options,
    ray_options,
    ray_settings,
)
from spacekit.cli.mteb import MtebIO, mteb_options, reference_lines
from spacekit.errors import InputError
from spacekit.tasks import Task
from spacekit.tasks.axes import parse_positive_ints, parse_precisions
from spacekit.tasks.base import run_checked
from spacekit.tasks.classification import PROTOCOLS, ClassificationTask
from spacekit.tasks.clustering import PROTOCOLS as CLUSTERING_PROTOCOLS
from spacekit.tasks.clustering import ClusteringTask
from spacekit.tasks.retrieval import DEFAULT_KS, RetrievalTask, retrieval_metric_names


class EvalGroup(click.Group):
    """eval's commands: those written here, then one derived from each tested kind that has none (looked up when
    the command line is read, so a kind's file is all it takes)."""

    def _derived(self) -> dict[str, type[Task]]:
        from spacekit.cli.kind_command import command_name
        from spacekit.tasks import kinds

        return {command_name(kind): cls for kind, cls in kinds().items()
                if cls.default_metrics and command_name(kind) not in self.commands}

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command name, written or derived."""
        return sorted({*super().list_commands(ctx), *self._derived()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """A written command, else the one derived from the kind of that name."""
        from spacekit.cli.kind_command import kind_command

        written = super().get_command(ctx, cmd_name)
        cls = self._derived().get(cmd_name) if written is None else None
        return written if cls is None else kind_command(cls, show)


eval_group = EvalGroup("eval", help="Evaluate one model on one task.")


def parse_ks(text: str) -> tuple[int, ...]:
    """'1,3,10' -> (1, 3, 10), each >= 1."""
    return parse_positive_ints(text, "--k")


def show(result, as_json: bool, main_metrics: tuple[str, ...] = (), extra: dict | None = None,
         mteb: MtebIO | None = None) -> None:
    """Print a TaskResult (and extra scalars after it) as JSON (stdout) or a small table; with MTEB options, write
    its result file and show the reference beside it."""
    rows = mteb.finish(result) if mteb is not None else None
    reference = [{"metric": r.metric, "spacekit": r.ours, "reference": r.reference, "difference": r.difference,
                  "flagged": r.flagged} for r in rows or []]
    obj = {**result.as_json(), **(extra or {}), **({"reference": reference} if rows is not None else {})}
    if as_json:
        emit_json(obj)
        return
    print_metrics({k: v for k, v in obj.items() if k != "reference"}, main_metrics)
    if rows is not None:
        click.echo("\nbeside the MTEB reference:\n" + "\n".join(reference_lines(rows)))


@eval_group.command("retrieval")
@click.argument("model")
@click.argument("beir_dir", type=click.Path())
@click.option("--split", default="test", show_default=True)
@click.option("--k", "ks", default=",".join(map(str, DEFAULT_KS)), show_default=True, help="cut-offs for every metric")
@click.option("--depth", type=int, default=RetrievalTask.depth, show_default=True, help="results retrieved per query")
@click.option("--similarity", type=click.Choice(("model", "cosine", "dot")), default=RetrievalTask.similarity,
              show_default=True, help="model: the model's own similarity_fn_name")
@click.option("--dims", default=None, help="also score the vectors truncated to these dimensions: 256,128,64")
@click.option("--quantize", default=None, help="also score quantised vectors: int8,uint8,binary,ubinary")
@click.option("--rescore", type=int, default=0, show_default=True,
              help="quantised search: re-score the top k x N candidates with float queries (0: no)")
@click.option("--backend", type=click.Choice(("spacekit", "faiss")), default=RetrievalTask.backend, show_default=True,
              help="exact search engine (faiss: optional, a flat index, on GPUs when faiss has them)")
@click.option("--all-queries", is_flag=True, help="score qrels queries absent from the run as 0 (trec_eval -c)")
@click.option("--hybrid", type=click.Choice(("rrf", "weighted")), default=None,
              help="also score BM25 alone and the dense run fused with it (metrics /bm25, /hybrid; the hybrid extra)")
@click.option("--hybrid-weight", type=float, default=RetrievalTask.hybrid_weight, show_default=True,
              help="--hybrid weighted: the dense run's weight (BM25's: 1 - it)")
@click.option("--rrf-k", type=int, default=RetrievalTask.rrf_k, show_default=True,
              help="--hybrid rrf: the constant k in 1 / (k + rank)")
@click.option("--rerank", type=click.Path(), default=None,
              help="a cross-encoder folder reranking the first stage (metrics /rerank)")
@click.option("--rerank-depth", type=int, default=RetrievalTask.rerank_depth, show_default=True,
              help="--rerank: first-stage results reranked per query")
@click.option("--index", default=None,
              help="also search through these indexes: hnsw,ivf (faiss),int8,binary; each with its k-NN recall@10")
@click.option("--run-out", type=click.Path(dir_okay=False), default=None, help="write the TREC run here")
@ray_options("encode and search the corpus")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@device_options
@cache_options
@prompt_options(roles=True)
@mteb_options
def eval_retrieval(model, beir_dir, split, ks, depth, similarity, dims, quantize, rescore, backend, all_queries,
                   hybrid, hybrid_weight, rrf_k, rerank, rerank_depth, index, run_out, ray_address, workers,
                   gpus_per_worker, as_json,
                   **opts) -> None:
    """Retrieval on a BEIR folder: exact top-k search, trec_eval metrics (also per dimension / precision)."""
    mteb = MtebIO.pop(opts)
    task = RetrievalTask(beir_dir, split, retrieval_metric_names(parse_ks(ks)), depth, similarity, all_queries,
                         run_out=run_out, backend=backend, hybrid=hybrid or "", hybrid_weight=hybrid_weight,
                         rrf_k=rrf_k, dims=parse_positive_ints(dims) if dims else (),
                         quantize=parse_precisions(quantize) if quantize else (), rescore=rescore,
                         index=tuple(x.strip() for x in index.split(",") if x.strip()) if index else (),
                         rerank=rerank or "", rerank_depth=rerank_depth,
                         ray=ray_settings(ray_address, workers, gpus_per_worker, opts.get("trust_remote_code", False)))
    result = run_checked(task, *model_and_options(model, **opts))
    show(result, as_json, tuple(f"ndcg@{k}" for k in parse_ks(ks)), mteb=mteb)


@eval_group.command("run")
@click.argument("qrels", type=click.Path())
@click.argument("run", type=click.Path())
@click.option("--k", "ks", default=",".join(map(str, DEFAULT_KS)), show_default=True)
@click.option("--all-queries", is_flag=True, help="score qrels queries absent from the run as 0 (trec_eval -c)")
@click.option("--json", "as_json", is_flag=True)
def eval_run(qrels, run, ks, all_queries, as_json) -> None:
    """Score an existing TREC run against qrels, like trec_eval."""
    from spacekit.io.trec import read_qrels, read_run
    from spacekit.metrics.retrieval import evaluate_ragged
    from spacekit.tasks.base import TaskResult

    judged, _ = read_qrels(qrels)
    scores = evaluate_ragged(judged, read_run(run), retrieval_metric_names(parse_ks(ks)), all_queries=all_queries)
    result = TaskResult(kind="run", name=str(run), dataset=str(qrels), model="-", metrics=scores.means(),
                        item_ids=scores.query_ids, per_item=scores.per_query)
    show(result, as_json, extra={"skipped_queries": scores.skipped})


@eval_group.command("sts")
@click.argument("model")
@click.argument("file", type=click.Path())
@click.option("--json", "as_json", is_flag=True)
@device_options
@cache_options
@prompt_options()
@mteb_options
def eval_sts(model, file, as_json, **opts) -> None:
    """STS: Spearman and Pearson of cosine similarity against gold scores."""
    from spacekit.tasks.sts import StsTask

    mteb = MtebIO.pop(opts)
    show(run_checked(StsTask(file), *model_and_options(model, **opts)), as_json, ("spearman",), mteb=mteb)


@eval_group.command("classification")
@click.argument("model")
@click.option("--train", "train", required=True, type=click.Path())
@click.option("--test", "test", required=True, type=click.Path())
@click.option("--protocol", type=click.Choice(PROTOCOLS), default=ClassificationTask.protocol, show_default=True,
              help="mteb: a few examples per label, several experiments; full: the whole train set")
@click.option("--samples-per-label", type=int, default=ClassificationTask.samples_per_label, show_default=True,
              help="mteb protocol: training examples per label in each experiment (MTEB tasks use 8, 16 or 32)")
@click.option("--n-experiments", type=int, default=ClassificationTask.n_experiments, show_default=True,
              help="mteb protocol: experiments (each a fresh sample of the train set); the metrics are their means")
@click.option("--max-iter", type=int, default=ClassificationTask.max_iter, show_default=True,
              help="logistic regression's iteration limit (MTEB: 100)")
@click.option("--text-field", default="text", show_default=True)
@click.option("--label-field", default=None, help="default: label, else category")
@click.option("--json", "as_json", is_flag=True)
@device_options
@cache_options
@prompt_options()
@mteb_options
def eval_classification(model, train, test, protocol, samples_per_label, n_experiments, max_iter, text_field,
                        label_field, as_json, **opts) -> None:
    """Classification by a logistic-regression probe on the embeddings."""
    mteb = MtebIO.pop(opts)
    task = ClassificationTask(train, test, protocol, text_field, label_field, samples_per_label, n_experiments,
                              max_iter)
    show(run_checked(task, *model_and_options(model, **opts)), as_json, ("accuracy",), mteb=mteb)


@eval_group.command("clustering")
@click.argument("model")
@click.argument("file", type=click.Path())
@click.option("--protocol", type=click.Choice(CLUSTERING_PROTOCOLS), default=ClusteringTask.protocol,
              show_default=True, help="full: spacekit's k-means over the whole file, RUNS times; mteb-v1 / mteb-v2: "
              "MTEB's procedures (each set on its own / bootstrap samples), for its published numbers")
@click.option("--text-field", default="text", show_default=True)
@click.option("--label-field", default=None, help="default: label, else labels, else category")
@click.option("--set-field", default=None, help="mteb-v1: the column naming each text's set (a file of MTEB's "
              "layout, one row of lists per set, needs none)")
@click.option("--seed", type=int, default=ClusteringTask.seed, show_default=True,
              help="full: the first run's seed; mteb: the random state (MTEB: 42)")
@click.option("--runs", type=int, default=ClusteringTask.runs, show_default=True,
              help="full: k-means runs (seeds SEED, SEED+1, ...): the metrics are their means")
@click.option("--max-fraction", type=float, default=None,
              help=f"mteb-v2: the share of documents embedded (MTEB's default {ClusteringTask.max_fraction})")
@click.option("--max-documents", type=int, default=None, help="mteb-v2: the number of documents embedded instead")
@click.option("--all-documents", is_flag=True, help="mteb-v2: embed every document (no first sample)")
@click.option("--subsets", type=int, default=ClusteringTask.subsets, show_default=True,
              help="mteb-v2: bootstrap samples")
@click.option("--subset-size", type=int, default=ClusteringTask.subset_size, show_default=True,
              help="mteb-v2: documents per sample (drawn with replacement)")
@click.option("--json", "as_json", is_flag=True)
@device_options
@cache_options
@prompt_options()
@mteb_options
def eval_clustering(model, file, protocol, text_field, label_field, set_field, seed, runs, max_fraction,
                    max_documents, all_documents, subsets, subset_size, as_json, **opts) -> None:
    """Clustering: k-means with k = number of labels; V-measure, NMI, ARI (means over runs)."""
    mteb = MtebIO.pop(opts)
    chosen = [name for name, given in (("--max-fraction", max_fraction is not None),
                                       ("--max-documents", max_documents is not None),
                                       ("--all-documents", all_documents)) if given]
    if len(chosen) > 1:
        raise InputError(f"give one of {', '.join(chosen)}, not several")
    fraction = max_fraction if max_fraction is not None else (None if chosen else ClusteringTask.max_fraction)
    task = ClusteringTask(file, text_field, label_field, seed, runs=runs, protocol=protocol, set_field=set_field,
                          max_fraction=fraction, max_documents=max_documents, subsets=subsets,
                          subset_size=subset_size)
    show(run_checked(task, *model_and_options(model, **opts)), as_json, ("v_measure",), mteb=mteb)


@eval_group.command("probes")
@click.argument("model")
@click.argument("file", default="builtin")
@click.option("--json", "as_json", is_flag=True)
@device_options
@cache_options
@prompt_options()
def eval_probes(model, file, as_json, **opts) -> None:
    """Pair probes (text_a, text_b, expect=close|far, group); FILE defaults to the built-in set."""
    from spacekit.tasks.probes import GroupVerdict, ProbesTask

    result = run_checked(ProbesTask(file), *model_and_options(model, **opts))
    if as_json:
        emit_json({**result.as_json(), "groups": result.groups})
    else:
        show(result, False, ("groups_passed",))
        for name, g in result.groups.items():
            verdict = GroupVerdict(**g)
            margin = "–" if verdict.margin is None else f"{verdict.margin:+.4f}"
            click.echo(f"  {'PASS' if verdict.passed else 'FAIL'}  {plain(name)}: margin {margin}")


@click.command("geometry")
@click.argument("model")
@click.argument("file", type=click.Path())
@click.option("--pairs", type=click.Path(), default=None, help="positive pairs (sentence1/sentence2 or text_a/text_b)")
@click.option("--text-field", default="text", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@device_options
@cache_options
@prompt_options()
def geometry_cmd(model, file, pairs, text_field, as_json, **opts) -> None:
    """Geometry of the space: uniformity, anisotropy, effective rank, alignment (with --pairs)."""
    from spacekit.tasks.geometry import GeometryTask

    show(run_checked(GeometryTask(file, pairs, text_field), *model_and_options(model, **opts)), as_json)


COMMANDS = [eval_group, geometry_cmd]
