# geobot: `make demo` and `make test` set up what they need in .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DIR := .demo-data
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
# llama-cpp-python (the local-llm extra) compiles llama.cpp: for the common x86-64 baseline
# (AVX2), not this machine's CPU, so that a wheel pip caches runs on another machine too.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF

# torch's CPU build (a local wheel on these machines); an unpinned torch pulled in by
# sentence-transformers would be a multi-GB CUDA build.
TORCH := torch==2.13.0+cpu
LOCK := requirements.lock

.PHONY: demo test lint format bench bench-quick install lock clean

install: $(STAMP)

# Every package at the exact version and hash in the lock (any pip can read it: no
# extras, everything named), then the project itself without resolving anything more.
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --require-hashes -r $(LOCK)
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Refresh the lock on purpose: the newest versions that pyproject.toml's ranges allow.
lock: $(STAMP)
	echo '$(TORCH)' > $(VENV)/torch-constraint.txt
	CUSTOM_COMPILE_COMMAND='make lock' $(PY) -m piptools compile --quiet --upgrade \
		--generate-hashes --allow-unsafe --strip-extras --all-extras \
		--no-emit-index-url --no-emit-find-links \
		--constraint $(VENV)/torch-constraint.txt --output-file $(LOCK) pyproject.toml

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
	$(PY) bench/answer_ceiling.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache
