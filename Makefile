# The two commands a new user types: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test bench bench-noisy serve clean

demo: $(VENV)/.installed
	$(BIN)/cfgraph demo

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest

bench: $(VENV)/.installed
	$(BIN)/python bench/run.py

# Finding flipped labels (OpenDataVal's task) with every valuation method, and KNN-Shapley and
# Data-OOB against pyDVL (built in its own environment, bench/pydvl_env.py).
bench-noisy: $(VENV)/.installed
	$(BIN)/python bench/bench_noisy.py

serve: $(VENV)/.installed
	$(BIN)/cfgraph serve

$(VENV)/.created:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "cfgraph needs Python 3.11 or newer (PYTHON=$(PYTHON) is older)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	touch $@

$(VENV)/.installed: $(VENV)/.created pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.created pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

clean:
	rm -rf $(VENV) cfgraph.db cfgraph.db-wal cfgraph.db-shm *.egg-info
