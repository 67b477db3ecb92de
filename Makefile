# Two commands on a fresh machine:  `make demo` (set up, run the whole pipeline on a
# generated repository) and `make test` (set up, run the test suite).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test test-fast lint format bench hostile clean

$(BIN)/riskml: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(BIN)/riskml

setup: $(BIN)/riskml

demo: setup
	$(BIN)/riskml demo

# Everything, end-to-end runs included: what .ci/run runs. Two pytest-xdist workers, one test
# file each at a time (a file's module fixtures stay on one worker): most tests wait on the
# subprocesses, servers and git they start, so two files at once use both cores.
test: setup
	$(BIN)/python -m pytest -n 2 --dist loadfile

# The unit tier: what to run while editing (end-to-end tests are marked `slow`).
test-fast: setup
	$(BIN)/python -m pytest -m "not slow"

lint: setup
	$(BIN)/ruff check riskml tests benchmarks pipelines
	$(BIN)/ruff format --check riskml tests benchmarks pipelines

format: setup
	$(BIN)/ruff format riskml tests benchmarks pipelines
	$(BIN)/ruff check --fix riskml tests benchmarks pipelines

bench: setup
	$(BIN)/python benchmarks/mine_bench.py
	$(BIN)/python benchmarks/label_bench.py
	$(BIN)/python benchmarks/train_bench.py
	$(BIN)/python benchmarks/score_bench.py
	$(BIN)/python benchmarks/serve_concurrency.py
	$(BIN)/python benchmarks/synth_bench.py
	$(BIN)/python benchmarks/trends_bench.py
	$(BIN)/python benchmarks/tracking_bench.py
	$(BIN)/python benchmarks/registry_bench.py
	$(BIN)/python benchmarks/state_bench.py
	$(BIN)/python benchmarks/fleet_bench.py
	$(BIN)/python benchmarks/fleet_train_bench.py
	$(BIN)/python benchmarks/fleet_gain.py

# The hostile corpus (benchmarks/hostile/cases.toml) through the real CLI, and against the
# project before the robustness work (1309518) side by side: docs/robustness.md.
hostile: setup
	$(BIN)/python benchmarks/hostile.py --ref $(or $(REF),1309518)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
