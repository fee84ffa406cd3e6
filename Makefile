# Herald — one entry point for every routine task. `make help` lists them.
UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)
RUN := $(UV) run --frozen

.PHONY: help setup demo test check fmt lint typecheck bench

help:
	@echo "make demo       set up, then play a whole release offline (herald demo)"
	@echo "make test       set up (PostgreSQL/Prometheus too, when root), then run every test"
	@echo "make check      ruff, ruff format --check, mypy --strict"
	@echo "make fmt        format and autofix"
	@echo "make bench      run the benchmarks under bench/"

setup:
	@scripts/bootstrap

demo: setup
	$(RUN) herald demo

test: setup
	@scripts/ensure-services
	$(RUN) pytest

lint: setup
	$(RUN) ruff check .
	$(RUN) ruff format --check .

typecheck: setup
	$(RUN) mypy bot tests bench

check: lint typecheck

fmt: setup
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

bench: setup
	$(RUN) python bench/run_all.py
