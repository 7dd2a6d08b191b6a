"""BM25 over a corpus, by bm25s (the `hybrid` extra): Lucene's BM25 with Anserini's BEIR settings (k1 0.9, b 0.4),
texts lower-cased, split into words, English stop words removed and Snowball-stemmed (bm25s.tokenize with
stopwords "en" and PyStemmer's English stemmer). A document that shares no term with the query is not retrieved,
as in Lucene. On SciFact (title and text as one field) this gives nDCG@10 0.6762 against Anserini's published
0.6789 (docs/regressions-beir-v1.0.0-scifact-flat.md)."""

from __future__ import annotations

import numpy as np

from spacekit.errors import InputError

K1, B = 0.9, 0.4            # Anserini's BM25 parameters for BEIR
EXTRA = "pip install 'spacekit[hybrid]'"


def check_available() -> None:
    """An InputError naming the extra when bm25s or PyStemmer is not installed."""
    import importlib.util

    missing = [name for name in ("bm25s", "Stemmer") if importlib.util.find_spec(name) is None]
    if missing:
        raise InputError(f"hybrid search needs BM25 ({' and '.join(missing)} not installed): {EXTRA}")


class Bm25:
    """A BM25 index of a corpus; search(queries, depth) ranks its documents for each query."""

    def __init__(self, texts: list[str], k1: float = K1, b: float = B) -> None:
        check_available()
        import bm25s
        import Stemmer

        self._bm25s, self._stemmer = bm25s, Stemmer.Stemmer("english")
        self.size = len(texts)
        self.index = bm25s.BM25(method="lucene", k1=k1, b=b)
        self.index.index(self._tokens(texts), show_progress=False)

    def _tokens(self, texts: list[str]):
        return self._bm25s.tokenize(texts, stopwords="en", stemmer=self._stemmer, show_progress=False)

    def search(self, queries: list[str], depth: int) -> tuple[np.ndarray, np.ndarray]:
        """(codes (nq, depth) int32, -1 = not retrieved; scores (nq, depth) float32 as bm25s computes them, -inf =
        not retrieved), rows best first (equal scores by the lower code): 8 bytes a ranked entry."""
        depth = min(depth, self.size)
        codes = np.full((len(queries), depth), -1, np.int32)
        scores = np.full((len(queries), depth), -np.inf, np.float32)
        if not queries:
            return codes, scores
        tokens = self._tokens(queries)
        found, score = self.index.retrieve(tokens, k=depth, show_progress=False, n_threads=1)
        score = np.asarray(score, np.float32)
        found = np.asarray(found, np.int64)
        order = np.lexsort((found, -score), axis=1)                       # ties by the lower code
        found, score = np.take_along_axis(found, order, 1), np.take_along_axis(score, order, 1)
        hit = score > 0
        codes[hit], scores[hit] = found[hit], score[hit]
        return codes, scores
