# make demo / make test work from a fresh clone with only Python 3.11+ present.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := true

.PHONY: demo test lint bench gpu-check clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch 2.13.0 (the CPU build on disk) unless a torch is already importable: never an unpinned torch
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev,demo]"
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/spacekit demo -o demo-report

test: $(VENV)/.installed
	$(PY) -m pytest -q

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check spacekit kernels tests benchmarks

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_encode.py
	$(PY) benchmarks/bench_tokenize.py
	$(PY) benchmarks/bench_topk.py
	$(PY) benchmarks/bench_metrics.py
	$(PY) benchmarks/kernel_resources.py

clean:
	rm -rf $(VENV) demo-report .pytest_cache
