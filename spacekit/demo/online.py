"""The demo's online evidence, SIMULATED: users whose clicks follow a position-based model (spacekit.ab.simulate)
over the real rankings of both demo models on the test queries, in an A/B test and in team-draft interleaving. The
logs are named simulated-*.jsonl and the report labels the section simulated."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np

from spacekit.ab.interleave import team_draft
from spacekit.ab.rankings import both_top_lists
from spacekit.ab.simulate import clicks_on
from spacekit.embed import EncodeOptions
from spacekit.files import atomic_write
from spacekit.io.beir import read_beir

USERS_PER_QUERY = 6


def simulated_logs(before: str, after: str, beir: Path, folder: Path, opts: EncodeOptions,
                   seed: int = 0) -> tuple[Path, Path]:
    """Write folder/simulated-ab.jsonl (each user sees one model, 50/50 by user) and
    folder/simulated-interleaved.jsonl (each search sees both, team-draft) and return their paths."""
    data = read_beir(beir)
    tops = both_top_lists(before, after, beir / "queries.jsonl", beir / "corpus.jsonl", 10, opts)
    rng, coin = np.random.default_rng(seed), random.Random(seed)
    ab, inter = [], []
    for i, qid in enumerate(tops[0].item_ids):
        if qid not in data.qrels:
            continue
        relevant = {d for d, rel in data.qrels[qid].items() if rel > 0}
        text = tops[0].item_texts[qid][0]
        for u in range(USERS_PER_QUERY):
            unit = f"user-{qid}-{u}"
            arm = "after" if rng.random() < 0.5 else "before"
            shown = tops[arm == "after"].top[i]
            ab.append({"request_id": f"ab-{qid}-{u}", "unit_id": unit, "arm": arm, "query": text, "shown": shown,
                       "clicks": clicks_on(shown, relevant, rng)})
            mixed, teams = team_draft(tops[0].top[i], tops[1].top[i], 10, coin)
            inter.append({"request_id": f"il-{qid}-{u}", "unit_id": unit, "query": text, "shown": mixed,
                          "team": teams, "clicks": clicks_on(mixed, relevant, rng)})
    paths = folder / "simulated-ab.jsonl", folder / "simulated-interleaved.jsonl"
    for path, rows in zip(paths, (ab, inter), strict=True):
        atomic_write(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return paths
