#!/usr/bin/env bash
# What a user gets from a plain install: a fresh venv, `pip install torch==2.13.0 && pip install .` (no extras), the
# latest releases of every dependency (pip's eager upgrade: no constraints file, exactly what a user's pip resolves
# today; torch alone is held at the installed build), then every command the README's tour shows, on tiny data:
# embed, each eval, geometry, ab, compare (report.json and an index.html with its plots), the demo's comparison
# step, and a model load and a compare run from the repository root (where a top-level name of the clone could
# shadow an installed package). Any failure or traceback fails the script, and prints the versions it resolved that
# differ from constraints/tested.txt, so an upstream release that breaks spacekit is named in one line.
#   scripts/smoke_plain_install.sh [WORK_DIR]      (default .ci-cache/smoke; the venv is kept there between runs)
# SMOKE_RESOLUTION=lowest holds every dependency at its lower bound in pyproject.toml instead (the bounds are
# versions that ran this tour; CI runs both: .ci-cache/smoke and .ci-cache/smoke-lowest).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
WORK="${1:-.ci-cache/smoke}"
VENV="$WORK/venv"
PYTHON="${PYTHON:-python3}"
export HF_HUB_OFFLINE=1 SPACEKIT_CACHE="$WORK/cache"
rm -rf "$WORK/run" && mkdir -p "$WORK/run"
test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
resolved_on_failure() {
  local status=$?
  if [ "$status" -ne 0 ] && [ -x "$VENV/bin/python" ]; then
    echo "smoke: FAILED (exit $status) with the ${SMOKE_RESOLUTION:-latest} releases; $("$PYTHON" "$ROOT/scripts/tested_versions.py" diff "$VENV/bin/python")"
  fi
}
trap resolved_on_failure EXIT
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -c "import torch" 2>/dev/null || "$VENV/bin/python" -m pip install -q torch==2.13.0
"$VENV/bin/python" -c "import torch; print('torch==' + torch.__version__)" > "$WORK/torch.txt"   # never another torch
if [ "${SMOKE_RESOLUTION:-latest}" = lowest ]; then
  "$PYTHON" scripts/tested_versions.py lowest > "$WORK/lowest.txt"
  echo "smoke: the lower bounds of pyproject.toml:" $(cat "$WORK/lowest.txt")
  "$VENV/bin/python" -m pip install -q -c "$WORK/torch.txt" -c "$WORK/lowest.txt" .
else
  "$VENV/bin/python" -m pip install -q --upgrade --upgrade-strategy eager -c "$WORK/torch.txt" .  # latest releases
fi
[ "${SMOKE_RESOLUTION:-latest}" = lowest ] || echo "smoke: $("$PYTHON" scripts/tested_versions.py diff "$VENV/bin/python")"
for extra in datasets faiss umap ray; do                 # the plain install has none of the extras
  if "$VENV/bin/python" -c "import $extra" 2>/dev/null; then echo "smoke: $extra is installed"; exit 1; fi
done
SK="$VENV/bin/spacekit"
RUN="$WORK/run"
# tiny data: the demo's support articles (retrieval), its STS pairs, labelled and paired texts made from them
"$VENV/bin/python" - "$RUN" <<'EOF'
import json, sys
from pathlib import Path
from spacekit.demo.data import write_demo_data
run = Path(sys.argv[1]).resolve()
paths = write_demo_data(run / "data")
corpus = [json.loads(x) for x in (paths["beir"] / "corpus.jsonl").read_text().splitlines()]
rows = [{"id": c["_id"], "text": c["text"], "label": c["_id"].split("-")[2]} for c in corpus]
(run / "texts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
product = lambda r: int(r["id"].split("-")[1])                     # train on some products, test on the others
(run / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows if product(r) < 7))
(run / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows if product(r) >= 7))
pairs = [{"sentence1": a["text"], "sentence2": b["text"], "label": int(a["label"] == b["label"])}
         for a, b in zip(rows[:60], rows[16:46] + rows[42:72])]             # the same issue, then another one
(run / "pairs.jsonl").write_text("".join(json.dumps(p) + "\n" for p in pairs))
(run / "suite.toml").write_text(f"""
[[task]]
name = "support"
kind = "retrieval"
data = "{paths['beir']}"
[[task]]
name = "general-sts"
kind = "sts"
data = "{run / 'data' / 'general-sts.tsv'}"
tag = "holdout"
""")
EOF
D="$RUN/data"
"$SK" embed builtin:minilm "$RUN/texts.jsonl" -o "$RUN/store"
"$SK" eval retrieval builtin:minilm "$D/support" --json > "$RUN/retrieval.json"
"$SK" eval sts builtin:minilm "$D/general-sts.tsv" --json --mteb-out "$RUN/mteb" > "$RUN/sts.json"
"$SK" eval sts builtin:minilm "$D/general-sts.tsv" --mteb-task general-sts.tsv --reference "$RUN/mteb" > /dev/null
"$VENV/bin/python" -c "
import json, sys; from spacekit.ab.simulate import ab_rows, interleaved_rows
rows, _ = ab_rows(300, lift=0.05, seed=1)
open(sys.argv[1] + '/ab.jsonl', 'w').write(''.join(json.dumps(r) + '\\n' for r in rows))
open(sys.argv[1] + '/il.jsonl', 'w').write(''.join(json.dumps(r) + '\\n' for r in interleaved_rows(200, seed=2)))
" "$RUN"
"$SK" ab analyze "$RUN/ab.jsonl" --control old > /dev/null
"$SK" ab plan "$RUN/ab.jsonl" --mde 0.03 > /dev/null
"$SK" ab interleaved "$RUN/il.jsonl" > /dev/null
"$SK" eval classification builtin:minilm --train "$RUN/train.jsonl" --test "$RUN/test.jsonl" --json > /dev/null
"$SK" eval clustering builtin:minilm "$RUN/texts.jsonl" --json > /dev/null
"$SK" eval clustering builtin:minilm "$RUN/texts.jsonl" --protocol mteb-v2 --all-documents --json > /dev/null
"$SK" eval pair-classification builtin:minilm "$RUN/pairs.jsonl" --json > /dev/null
"$SK" eval probes builtin:minilm --json > /dev/null
"$SK" geometry builtin:minilm "$RUN/texts.jsonl" --json > /dev/null
"$SK" compare builtin:minilm builtin:minilm --suite "$RUN/suite.toml" -o "$RUN/report" --resamples 500
"$SK" demo -o "$RUN/demo" --after builtin:minilm --resamples 500
# From the repository root, as `python -m pytest`, `python -c` or a notebook in the clone runs: the clone's spacekit
# first on sys.path, beside the latest releases (a kernels/__init__.py here once shadowed Hugging Face's `kernels`,
# which transformers imports on every model load). A model load, then a compare that encodes (no cache).
"$VENV/bin/python" -c "
import importlib.metadata, importlib.util, spacekit
v = spacekit.load_model('builtin:minilm').encode(['a model load from the repository root'], progress=False)
assert v.shape == (1, 384), v.shape
spec = importlib.util.find_spec('kernels')
try:
    hf = importlib.metadata.version('kernels')
except importlib.metadata.PackageNotFoundError:
    hf = None
assert hf is None or (spec.origin or '').find('site-packages') > 0, spec
print('smoke: from the repository root,', spacekit.__file__, 'loaded builtin:minilm;',
      f'Hugging Face kernels {hf} from {spec.origin}' if hf else 'Hugging Face kernels not installed')
"
"$VENV/bin/python" -m spacekit.cli compare builtin:minilm builtin:minilm --suite "$RUN/suite.toml" \
  -o "$RUN/report-root" --resamples 500 --no-cache > /dev/null
"$VENV/bin/python" - "$RUN" <<'EOF'
import json, sys
from pathlib import Path
run = Path(sys.argv[1])
for folder in ("report", "demo", "report-root"):
    report = json.loads((run / folder / "report.json").read_text())
    assert report["verdict"] == "no meaningful change", (folder, report["verdict"])   # a model against itself
    assert {r["verdict"] for r in report["headline"]["rows"]} == {"equivalent"}, (folder, report["headline"])
    assert {"projection", "deltas"} <= set(report["plots"]), (folder, report["plots"])
    page = (run / folder / "index.html").read_text()
    assert page.count("data:image/png;base64,") >= 2, folder
assert json.loads((run / "retrieval.json").read_text())["metrics"]["ndcg@10"] > 0.3
assert json.loads((run / "demo" / "report.json").read_text())["online"]["simulated"] is True
print("smoke: plain install ran embed, every eval, geometry, ab, compare and the demo's comparison step, "
      "and a model load and a compare from the repository root")
EOF
