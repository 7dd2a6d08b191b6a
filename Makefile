# make demo / make test work from a fresh clone with only Python 3.11+ present.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := true

.PHONY: demo test test-fast lint types layers check smoke ci bench gpu-check clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch 2.13.0 (the CPU build on disk) unless a torch is already importable: never an unpinned torch
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev,demo]"
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/spacekit demo -o demo-report

test: $(VENV)/.installed                    # everything, the real model on real data included
	$(PY) -m pytest -q

test-fast: $(VENV)/.installed               # while working: the slow real-model tests deselected
	$(PY) -m pytest -q -m "not slow"

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check spacekit kernels tests benchmarks scripts

types: $(VENV)/.installed
	$(VENV)/bin/mypy

layers: $(VENV)/.installed                  # the layer contract in pyproject.toml
	$(VENV)/bin/lint-imports

check: lint types layers

smoke:                                      # a fresh venv with a plain `pip install .` runs the README's tour
	scripts/smoke_plain_install.sh

ci: check test smoke

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_encode.py
	$(PY) benchmarks/bench_tokenize.py
	$(PY) benchmarks/bench_topk.py
	$(PY) benchmarks/bench_metrics.py
	$(PY) benchmarks/kernel_resources.py

clean:
	rm -rf $(VENV) demo-report .pytest_cache .ci-cache
