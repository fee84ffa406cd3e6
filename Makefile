# Herald — one entry point for every routine task. `make help` lists them.
UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)
RUN := $(UV) run --frozen

.PHONY: help setup demo test check fmt lint typecheck imports bench dist image

help:
	@echo "make help       this list"
	@echo "make setup      install uv (if missing) and the locked dependencies into .venv"
	@echo "make demo       set up, then play a whole release offline (herald demo)"
	@echo "make test       set up (PostgreSQL/Prometheus/Alertmanager too, when root), then run every test"
	@echo "make check      lint + typecheck + imports: everything CI checks before the tests"
	@echo "make lint       ruff check and ruff format --check"
	@echo "make typecheck  mypy --strict over bot, standins, tests and bench"
	@echo "make imports    import-linter: the layer contracts in pyproject.toml"
	@echo "make fmt        format and autofix"
	@echo "make bench      run the benchmarks under bench/ (figures in bench/README.md)"
	@echo "make dist       build the wheel and the sdist into dist/ (uv build)"
	@echo "make image      build the container image (IMAGE=localhost/herald:VERSION) with podman, buildah or docker"

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
	$(RUN) mypy bot standins tests bench

imports: setup
	$(RUN) lint-imports

check: lint typecheck imports

fmt: setup
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

bench: setup
	$(RUN) python bench/run_all.py

dist: setup
	rm -rf dist
	$(UV) build --out-dir dist

image:
	scripts/build-image $(IMAGE)
