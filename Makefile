PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test docs bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch is pinned here: a bare `torch` requirement pulls a multi-GB CUDA build.
	$(PY) -m pip install --quiet "torch==2.13.0"
	$(PY) -m pip install --quiet -e ".[dev,torch]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/spectranet demo

test: $(STAMP)
	$(PY) -m pytest -q

# the documentation site (guide, gallery, API reference), offline, warnings as errors
docs: $(STAMP)
	$(PY) -m sphinx -W --keep-going -b html docs docs/_build/html

bench: $(STAMP)
	$(PY) benchmarks/bench_cvxpy_memory.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
