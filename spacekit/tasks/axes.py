"""The Matryoshka and precision axes a task can be scored along besides the full vectors: each (dimension,
precision) variant is scored from the one encoding, its metrics named `<metric>/<dim>d`, `<metric>/<precision>`
or `<metric>/<dim>d/<precision>` (ndcg@10/256d/int8), and compare tests each like any other metric."""

from __future__ import annotations

from dataclasses import dataclass

from spacekit.errors import InputError

PRECISIONS = ("float32", "int8", "uint8", "binary", "ubinary")   # those spacekit.ops.quantize searches in


@dataclass(frozen=True)
class Variant:
    """One scoring of the vectors: truncated to dim (None: all of them) and in a precision."""

    dim: int | None = None
    precision: str = "float32"

    @property
    def tag(self) -> str:
        """'256d', 'int8', '256d/int8' ('' for the full float vectors)."""
        return "/".join(([f"{self.dim}d"] if self.dim else []) + ([self.precision] * (self.precision != "float32")))

    def metric(self, name: str) -> str:
        """The metric's name under this variant."""
        return f"{name}/{self.tag}" if self.tag else name


def check_precision(name: str) -> str:
    """The name, when it is one of PRECISIONS."""
    if name not in PRECISIONS:
        raise InputError(f"quantisation must be one of {', '.join(PRECISIONS[1:])}, got {name!r}")
    return name


def variants(dims: tuple[int, ...], precisions: tuple[str, ...]) -> list[Variant]:
    """Every (dim, precision) pair of the axes but the full float vectors: the full dimension first, then each
    dim; float32 first, then each precision."""
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, int) or d < 1:
            raise InputError(f"dims must be positive integers, got {d!r}")
    for p in precisions:
        check_precision(p)
    cuts = [None, *dict.fromkeys(dims)]
    kinds = ["float32", *[p for p in dict.fromkeys(precisions) if p != "float32"]]
    return [Variant(d, p) for d in cuts for p in kinds if (d, p) != (None, "float32")]


RUNS = ("bm25", "hybrid")    # a retrieval task's lexical and fused runs, scored like variants (tasks.retrieval)
FUSIONS = ("rrf", "weighted")  # how a hybrid search fuses them (spacekit.ops.fusion)
RERANKED = "rerank"           # a retrieval task's first stage reranked by a cross-encoder (embed.cross_encoder)
INDEX_TAGS = ("hnsw", "ivf")  # the approximate indexes a retrieval task searches through: spacekit.ops.ann's INDEXES


def base_metric(name: str) -> tuple[str, str]:
    """'ndcg@10/256d/int8' -> ('ndcg@10', '256d/int8'); 'ndcg@10/hybrid' -> ('ndcg@10', 'hybrid') (an index or a
    reranked run too: /hnsw); a plain metric -> (name, '')."""
    base, _, tag = name.partition("/")
    if tag in RUNS or tag in INDEX_TAGS or tag == RERANKED:
        return base, tag
    for part in tag.split("/") if tag else []:
        if not (part in PRECISIONS[1:] or (part.endswith("d") and part[:-1].isdigit() and int(part[:-1]) > 0)):
            raise InputError(f"metric {name!r}: {part!r} is not a dimension (256d), a precision "
                             f"({', '.join(PRECISIONS[1:])}), a hybrid search's run ({', '.join(RUNS)}), an index "
                             f"({', '.join(INDEX_TAGS)}) or the reranked run ({RERANKED})")
    return base, tag


def parse_positive_ints(text: str, option: str = "--dims") -> tuple[int, ...]:
    """'768,256,64' -> (768, 256, 64), each >= 1 (option: the CLI option named in an error)."""
    try:
        values = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise InputError(f"{option} must be a comma-separated list of integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise InputError(f"{option} values must be >= 1, got {text!r}")
    return values


def parse_precisions(text: str) -> tuple[str, ...]:
    """'int8,binary' -> ('int8', 'binary'), each a precision."""
    return tuple(check_precision(x.strip()) for x in text.split(",") if x.strip())
