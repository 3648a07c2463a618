# geobot: `make demo` and `make test` set up what they need in .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DIR := .demo-data
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: demo test lint format bench bench-quick install clean

install: $(STAMP)

# torch first and pinned: here 2.13.0 is a local CPU build; an unpinned torch pulled in by
# sentence-transformers would be a multi-GB CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

# Ingest the shipped seed articles into a fresh demo store, then answer from them.
demo: $(STAMP)
	rm -rf $(DEMO_DIR)
	$(VENV)/bin/geobot --data-dir $(DEMO_DIR) ingest seeds/
	$(VENV)/bin/geobot --data-dir $(DEMO_DIR) sources
	@echo; echo '$$ geobot ask "What did Biden and Kishida agree on?"'
	@$(VENV)/bin/geobot --data-dir $(DEMO_DIR) ask "What did Biden and Kishida agree on?"
	@echo; echo '$$ geobot ask "Who won the 2018 FIFA World Cup?"'
	@$(VENV)/bin/geobot --data-dir $(DEMO_DIR) ask "Who won the 2018 FIFA World Cup?"

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy index bot bench tests

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Benchmarks print figures; they need ../shared/data/realtimeqa (the dev corpus is
# embedded once, ~30 min on 2 cores, and kept in .bench-cache/).
bench: $(STAMP)
	$(PY) bench/build_corpus.py
	$(PY) bench/ingest.py --articles 150
	$(PY) bench/search.py
	$(PY) bench/answer.py
	$(PY) bench/discord_load.py
	$(PY) bench/feeds.py
	$(PY) bench/calibrate_decline.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache
