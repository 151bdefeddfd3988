# The README's two commands: `make run` (install, build the index, start codefinder) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install build run test lint eval clean

install: $(VENV)/.installed

# torch first and pinned: the CPU build lies on local disk; an unpinned torch would pull CUDA wheels.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

build: install
	$(BIN)/codefinder build

run: build
	$(BIN)/codefinder search "cpap machine"

lint: install
	$(BIN)/ruff check .

test: install lint
	$(BIN)/python -m pytest -q

eval: install
	$(BIN)/codefinder eval ../shared/data/eval/dev_chargemaster.csv --cap-per-code 3
	$(BIN)/codefinder eval data/eval/queries.csv

clean:
	rm -rf $(VENV) data/index data/cache
