# make demo / make test work from a fresh clone with only Python 3.11+ present, in the tested dependency set:
# constraints/tested.txt pins every package (transitive ones included) at the versions the last green CI used.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
TESTED := constraints/tested.txt
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := true

.PHONY: demo test test-fast lint types layers check smoke smoke-lowest ci bench constraints clean

$(VENV)/.installed: pyproject.toml $(TESTED)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip -c $(TESTED)
	# torch 2.13.0 (the CPU build on disk) unless a torch is already importable: never an unpinned torch
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -c $(TESTED) -e ".[dev,demo]"
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/spacekit demo -o demo-report

test: $(VENV)/.installed                    # every tier: unit, model (the real MiniLM) and real (shared data, Ray, ...)
	$(PY) -m pytest -q --durations=15

test-fast: $(VENV)/.installed               # while working: the unit tier (tiny random models, synthetic data)
	$(PY) -m pytest -q -m "not model and not real"

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check spacekit kernels tests benchmarks scripts

types: $(VENV)/.installed
	$(VENV)/bin/mypy

layers: $(VENV)/.installed                  # the layer contract in pyproject.toml
	$(VENV)/bin/lint-imports

check: lint types layers

smoke:                                      # a plain `pip install .` of the latest releases runs the README's tour
	scripts/smoke_plain_install.sh

smoke-lowest:                               # the same tour with every dependency at its lower bound in pyproject
	SMOKE_RESOLUTION=lowest scripts/smoke_plain_install.sh .ci-cache/smoke-lowest

constraints:                                # on purpose only: the latest releases become the tested set (then make ci)
	$(PYTHON) scripts/tested_versions.py update

ci: check test smoke smoke-lowest

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_encode.py
	$(PY) benchmarks/bench_tokenize.py
	$(PY) benchmarks/bench_topk.py
	$(PY) benchmarks/bench_metrics.py
	$(PY) benchmarks/kernel_resources.py

clean:
	rm -rf $(VENV) demo-report .pytest_cache .ci-cache
