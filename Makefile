PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test docs bench smoke clean

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

# the distribution as a user gets it: the sdist and the wheel, each in a fresh venv with no extras
# (dependencies from PyPI), then `spectranet demo --quick` (without torch: the backprop runs and the
# plots are skipped with a note)
SMOKE := build/smoke
smoke: $(STAMP)
	rm -rf $(SMOKE) && mkdir -p $(SMOKE)
	$(PY) -m build --no-isolation --outdir $(SMOKE)/dist .
	for dist in $(SMOKE)/dist/*.whl $(SMOKE)/dist/*.tar.gz; do \
	  rm -rf $(SMOKE)/venv && $(PYTHON) -m venv $(SMOKE)/venv && \
	  $(SMOKE)/venv/bin/python -m pip install --quiet "$$dist" && \
	  (cd $(SMOKE) && venv/bin/spectranet demo --quick) || exit 1; \
	done
	rm -rf $(SMOKE)/venv

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
