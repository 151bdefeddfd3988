# The README's two commands: `make run` (install, build the index, start codefinder) and `make test`.
SHELL := bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install build run serve test lint eval evaluation tune bench browser screenshots clean

install: $(VENV)/.installed

# Lines pip prints that nobody can act on: this machine's pip configuration naming local package folders
# that do not exist, and setuptools' notice that an editable install is editable. Real warnings pass.
QUIET_PIP := sed -u -e "/^WARNING: Location 'file:/d" -e '/BuildBackendWarning: Editable installation/,/with strategy, WheelFile/d'

# torch first and pinned: the CPU build lies on local disk; an unpinned torch would pull CUDA wheels.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip 2>&1 | $(QUIET_PIP)
	$(BIN)/pip install --quiet torch==2.13.0 2>&1 | $(QUIET_PIP)
	$(BIN)/pip install --quiet -e '.[dev]' 2>&1 | $(QUIET_PIP)
	touch $@

build: install
	$(BIN)/codefinder build

# The main job: the index from the default data, then the API and web page on http://$(HOST):$(PORT)/
run: build serve

serve: install
	$(BIN)/codefinder serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .

# The browser test drives Debian's Chromium (Playwright never downloads a browser here) and checks every mode
# of the page with axe-core, installed from tests/browser/package-lock.json (node and npm from the system).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@command -v npm >/dev/null 2>&1 || { \
	  echo "installing Debian's nodejs and npm for the accessibility check"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
	npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error

# BROWSER_TESTS=required: a browser test that finds no Chromium or axe-core fails instead of skipping.
test: install lint browser
	BROWSER_TESTS=required $(BIN)/python -m pytest -q

eval: install
	$(BIN)/codefinder eval ../shared/data/eval/dev_chargemaster.csv --cap-per-code 3
	$(BIN)/codefinder eval data/eval/queries.csv

# Tuning on the dev data (writes bench/results/tuning.json and data/calibration.json; ~5 min).
tune: build
	$(BIN)/python -m bench.tune

# docs/evaluation.md from one command.
evaluation: build
	$(BIN)/python -m bench.evaluation

# Speed and memory benchmarks (bench/results/bench.md; ~10 min; needs wrk, installed if missing).
bench: build
	$(BIN)/python -m bench.run

# docs/screenshots/: the page in each mode at 390 and 1366 px, light and dark, from the built index.
screenshots: build browser
	$(BIN)/python -m bench.screenshots

clean:
	rm -rf $(VENV) data/index data/cache tests/browser/node_modules
