# Set-up and everyday commands. `make run` and `make test` each create .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= 2
EXTRAS ?= ml,dev,slurm
WHEELS := .cache/wheels
TEMUL_WHEEL := $(WHEELS)/temul_toolkit-0.1.9-py3-none-any.whl
# hyperspy 1.7.6 (GPL-3.0, 33 MB): its tests/io data, .dm4, TIA .ser/.emi and DM/ImageJ/Olympus TIFFs.
# One fixed file whatever the local Python: it is only unzipped, never installed.
HYPERSPY_WHEEL := $(WHEELS)/hyperspy-1.7.6-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
# mrcfile 1.5.4 (BSD-3-Clause, 52 MB): the sdist's tests/test_data, two .mrc files written by Thermo Fisher EPU.
MRCFILE_SDIST := $(WHEELS)/mrcfile-1.5.4.tar.gz
EXAMPLE_FILES := $(TEMUL_WHEEL) $(HYPERSPY_WHEEL) $(MRCFILE_SDIST)

.PHONY: install run test test-quick lint bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml envs/pip-constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c envs/pip-constraints.txt -e ".[$(EXTRAS)]"
	touch $@

## run: the whole workflow on the small built-in configuration (2 cores)
run: install
	$(BIN)/snakemake --cores $(CORES) --configfile workflow/configs/small.yaml

## test: the code checks, then the test suite (first downloads, once, the packages whose example
## microscope files tests/io reads), one test file at a time in each of $(CORES) processes
test: lint $(EXAMPLE_FILES)
	$(BIN)/python -m pytest -n $(CORES) --dist loadfile

## test-quick: the same without the few long end-to-end runs marked slow (the workflow, Slurm and
## two-worker training tests), for a laptop; CI runs `make test`, all of them
test-quick: lint $(EXAMPLE_FILES)
	$(BIN)/python -m pytest -n $(CORES) --dist loadfile -m "not slow"

$(TEMUL_WHEEL): | $(VENV)/.installed
	$(BIN)/python -m pip download --quiet --no-deps temul-toolkit==0.1.9 -d $(WHEELS)

$(HYPERSPY_WHEEL): | $(VENV)/.installed
	$(BIN)/python -m pip download --quiet --no-deps --only-binary :all: --python-version 3.11 \
		--platform manylinux2014_x86_64 hyperspy==1.7.6 -d $(WHEELS)

$(MRCFILE_SDIST): | $(VENV)/.installed
	$(BIN)/python -m pip download --quiet --no-deps --no-binary :all: mrcfile==1.5.4 -d $(WHEELS)

## lint: Snakemake's linter and formatter check, ruff (pyflakes, import order, pycodestyle) and mypy
lint: install
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/ruff check src tests benchmarks workflow/scripts
	$(BIN)/mypy

## bench: the benchmarks (results go to BENCHMARKS.md by hand)
bench: install
	$(BIN)/python benchmarks/bench_exitwaves.py

clean:  # everything under results/ but its README
	find results -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
	rm -rf .snakemake
