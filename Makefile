# The two commands a new user types: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test bench bench-noisy serve clean

demo: $(VENV)/.installed
	$(BIN)/cfgraph demo

# As root on Debian, the system packages some tests need (Chromium for the browser tests, PostgreSQL
# for the shared-store tests) are installed first; elsewhere those tests are skipped with the package
# named (under CI=true a missing one fails the run).
test: $(VENV)/.installed-test
	@missing=""; command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing$$missing (Debian packages the tests need)"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	elif [ -n "$$missing" ]; then echo "not installed:$$missing (their tests are skipped)"; fi
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
