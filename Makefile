# rdugen — every target sets itself up: a fresh machine needs only Python >= 3.10, g++, make and perl.
#   make sim     run the main job (the kernel suite) on the small preset (CONFIG=... for another)
#   make test    the regression (CI runs this)
#   make lint    verilator --lint-only on every generated configuration
#   make bench   benchmarks: JSON + table
#   make figures rewrite README's measured figures (and its two plots in docs/img) from
#                build/bench/*.json and the last make test
#   make coverage  line/toggle coverage of the Verilator tests, per unit (build/coverage; long)
#   make clean   remove build products (keeps .venv; `make distclean` removes it too)

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
JOBS   ?= 2
CONFIG ?= small
PYTEST_ARGS ?=
# JUnit XML of the last `make test`: the test count and time the README quotes
JUNIT  := build/test-results.xml

export PYTHONDONTWRITEBYTECODE := 1

.PHONY: all sim test test-slow test-all coverage lint bench figures fpga fpga-units fpga-paths fpga-route clean distclean venv

all: test

# The venv is (re)installed only when pyproject.toml changes.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip
	@$(PY) -m pip install --quiet -e '.[fpga,dev]'
	@touch $(STAMP)
	@echo "rdugen: environment ready in $(VENV)"

venv: $(STAMP)

sim: $(STAMP)
	@$(VENV)/bin/rdu sim --config $(CONFIG)

test: $(STAMP)
	@$(PY) -m pytest -n $(JOBS) -m "not slow" --durations=30 --junitxml=$(JUNIT) $(PYTEST_ARGS)

test-slow: $(STAMP)
	@$(PY) -m pytest -n $(JOBS) -m "slow" $(PYTEST_ARGS)

test-all: $(STAMP)
	@$(PY) -m pytest -n $(JOBS) $(PYTEST_ARGS)

# The Verilator tests on counting builds (RDU_COVERAGE; separate cache entries), merged per unit:
# build/coverage/summary.json, uncovered.txt, annotated/ (tb/coverage.py). The report is written
# even when a test fails; make then fails too.
COVERAGE_DIR := build/coverage
coverage: $(STAMP)
	@rm -rf $(COVERAGE_DIR)/data
	@status=0; RDU_COVERAGE=$(COVERAGE_DIR)/data $(PY) -m pytest -n $(JOBS) -m "verilator and not slow" $(PYTEST_ARGS) || status=$$?; \
	$(PY) -m scripts.coverage $(COVERAGE_DIR)/data -o $(COVERAGE_DIR) && exit $$status

lint: $(STAMP)
	@$(VENV)/bin/rdu lint --all

bench: $(STAMP)
	@$(PY) -m scripts.bench $(BENCH_ARGS)

figures: $(STAMP)
	@$(PY) -m scripts.readme_figures
	@$(VENV)/bin/rdu plot --only sdpa_buffer area --format svg -o docs/img

# the ULX3S's default design: the fpga preset's fabric (static placement, router2; ~21 min on 2 cores)
fpga: $(STAMP)
	@$(VENV)/bin/rdu fpga build --board ulx3s

fpga-units: $(STAMP)
	@$(PY) -m scripts.bench_fpga --units

fpga-paths: $(STAMP)
	@$(VENV)/bin/rdu fpga build --board ulx3s --design kernel --place-only --placer static -o build/fpga/ulx3s-kernel-placed

# routes the placement `make fpga-paths` left (nextpnr router2, congestion growth 0.5)
fpga-route: $(STAMP)
	@$(VENV)/bin/rdu fpga route build/fpga/ulx3s-kernel-placed

clean:
	rm -rf build .pytest_cache sim_build results.xml
	find . -name __pycache__ -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) .cache
