# The README's commands. Each sets up .venv on first use (about 5 minutes: llama.cpp builds from source).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export HF_HUB_OFFLINE ?= 1
export ANONYMIZED_TELEMETRY ?= False
# mkdocs-material prints a banner about a future MkDocs on every build: noise in CI's log.
export NO_MKDOCS_2_WARNING ?= 1

.PHONY: install run lint docs docs-check test test-fast bench clean

# llama.cpp builds portable (AVX2/FMA), not -march=native: on a CPU with AMX (Sapphire Rapids and later)
# a native build crashed with SIGILL in ggml's AMX kernels in a virtual machine that does not enable them.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	CMAKE_ARGS="-DGGML_NATIVE=OFF $$CMAKE_ARGS" $(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

## bubblewrap is the sandbox for model-written code (see docs/safety.md).
install: $(STAMP)
	@command -v bwrap >/dev/null || (echo "installing bubblewrap, the sandbox for model-written code"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null)

## make run: compile specs/math.yaml on the embedded model into runs/math-demo and show the dataset.
run: install
	$(BIN)/nanoflux compile specs/math.yaml --rounds 8 --out runs/math-demo --resume

## make lint: the layers contract (import-linter) and ruff's rules, both in pyproject.toml.
lint: install
	$(BIN)/lint-imports
	$(BIN)/ruff check

## make docs: serve the manual (docs/, MkDocs) on http://127.0.0.1:8000, rebuilt as you edit it.
docs: install
	$(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

## The manual builds with no warning: a broken link, a missing page or a page left out of the nav fails.
docs-check: install
	$(BIN)/mkdocs build --strict --quiet --site-dir $(VENV)/site

## make test: lint, the manual, then the whole suite, slow (real-model) tests included, as CI runs it.
## Tests run on pytest-xdist's workers, one per core (at most 8); TEST_WORKERS=0 runs them in this process.
TEST_WORKERS ?= auto
PYTEST := $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --maxprocesses 8

test: lint docs-check
	@command -v chromium >/dev/null || (echo "installing chromium for the report's browser test"; apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null)
	$(PYTEST)

test-fast: lint docs-check
	$(PYTEST) -m "not slow"

bench: install
	$(BIN)/python benchmarks/compile.py  # a stand-in server at 1-64 threads; embedded seconds per round
	$(BIN)/python benchmarks/embedded_lm.py --calls 8  # rounds against the token bound; the wrapper's overhead
	$(BIN)/python benchmarks/judge_tools.py
	$(BIN)/python benchmarks/verified_share.py
	$(BIN)/python benchmarks/reference_dev.py  # the reference check on model-written GSM8K solutions
	$(BIN)/python benchmarks/replay.py  # those solutions through compile: precision and yield, solves: 0 and default
	$(BIN)/python benchmarks/novelty.py
	$(BIN)/python benchmarks/decontaminate.py
	$(BIN)/python benchmarks/report.py
	$(BIN)/python benchmarks/train.py
	$(BIN)/python benchmarks/scale.py  # Ray actors against threads; the driver's cost per round
	$(BIN)/python benchmarks/interrupt.py  # seconds from Ctrl-C to the exit of a compile

clean:
	rm -rf $(VENV) runs
