# Set-up and everyday commands. `make run` and `make test` each create .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= 2
EXTRAS ?= ml,dev,slurm
WHEELS := .cache/wheels
TEMUL_WHEEL := $(WHEELS)/temul_toolkit-0.1.9-py3-none-any.whl

.PHONY: install run test lint bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml envs/pip-constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c envs/pip-constraints.txt -e ".[$(EXTRAS)]"
	touch $@

## run: the whole workflow on the small built-in configuration (2 cores)
run: install
	$(BIN)/snakemake --cores $(CORES) --configfile workflow/configs/small.yaml

## test: the test suite (first downloads, once, the wheel whose example microscope files tests/io reads)
test: install $(TEMUL_WHEEL)
	$(BIN)/python -m pytest

$(TEMUL_WHEEL): | $(VENV)/.installed
	$(BIN)/python -m pip download --quiet --no-deps temul-toolkit==0.1.9 -d $(WHEELS)

## lint: Snakemake's linter and formatter check
lint: install
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile workflow/rules

## bench: the benchmarks (results go to BENCHMARKS.md by hand)
bench: install
	$(BIN)/python benchmarks/bench_exitwaves.py

clean:  # everything under results/ but its README
	find results -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
	rm -rf .snakemake
