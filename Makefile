# lambda-rie: build, gates and test suites.
#
#   make test    the full check from a clean clone: venv, build, gates, cargo test, pytest
#   make wheel   the wheel (extension module + native `lambda-rie` command) in target/wheels/
#   make serve   build and serve examples/hello/app.handler on http://localhost:8080
#   make bench   pytest-benchmark with timings on (JSON in target/bench/)
#   make stress  the stress and property tests at full size
#   make soak    the soak test at full size: 10 minutes per face, samples in target/soak/
#
# Everything is installed into .venv and target/ by these rules; nothing by hand.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test
.DELETE_ON_ERROR:

PYTHON ?= python3
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
NATIVE := target/release/lambda-rie
# The wheel's data directory ([tool.maturin] data): scripts/ goes to the environment's bin/.
WHEEL_DATA := target/wheel-data

# NOTE: one cargo target dir for maturin, the native binary, clippy and cargo test, and one
# interpreter for pyo3's build script, so that no step invalidates another's build cache.
export CARGO_TARGET_DIR := $(CURDIR)/target
export PYO3_PYTHON := $(BIN)/python

RUST_INPUTS := Cargo.toml $(wildcard Cargo.lock) \
	$(shell find rust -name '*.rs' -o -name 'Cargo.toml' 2>/dev/null)

.PHONY: test gates rust-gates python-gates native wheel-data wheel develop serve bench stress soak clean

## The README's test command: gates first, then both suites; stops at the first failure.
test: gates native
	LAMBDA_RIE_MOTO_SERVER=$(BIN)/moto_server cargo test --workspace
	$(BIN)/pytest

gates: rust-gates python-gates

rust-gates: $(BIN)/python
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

python-gates: develop
	$(BIN)/ruff check python tests benches examples
	$(BIN)/ruff format --check python tests benches examples
	$(BIN)/mypy
	$(BIN)/python -m mypy.stubtest lambda_rie._core --allowlist .ci/stubtest-allowlist.txt

## The native binary, for images without Python (cargo decides what is stale).
native:
	cargo build --release -p lambda-rie-cli

## The native binary staged as the wheel's `lambda-rie` command. maturin packs only the pyo3
## extension itself, so every wheel build (`maturin develop`, `maturin build`, `pip wheel .`,
## `pip install .`) needs this first; without it they stop with "No such data directory".
wheel-data: native
	install -D -m 755 $(NATIVE) $(WHEEL_DATA)/scripts/lambda-rie

## The release wheel for this platform, with the native command, in target/wheels/.
wheel: wheel-data $(VENV)/.deps.stamp
	$(BIN)/maturin build --release

## The Python package, installed into .venv with the dev extra (pytest, awslambdaric, ruff, mypy).
develop: $(VENV)/.develop.stamp

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# NOTE: pip cannot resolve the `lambda-rie[test]` self-reference inside the `dev` extra before the
# project is built, so the extra's requirements are expanded and installed first.
$(VENV)/.deps.stamp: $(BIN)/python pyproject.toml .ci/dev_requirements.py
	$(BIN)/python .ci/dev_requirements.py pyproject.toml dev > $(VENV)/dev-requirements.txt
	$(BIN)/pip install --quiet 'maturin>=1.5,<2' -r $(VENV)/dev-requirements.txt
	touch $@

# NOTE: the native binary is built and staged before the extension, one cargo build at a time
# in the one target dir, so that `maturin develop` installs it as .venv/bin/lambda-rie.
$(VENV)/.develop.stamp: $(VENV)/.deps.stamp pyproject.toml $(RUST_INPUTS)
	$(MAKE) --no-print-directory wheel-data
	VIRTUAL_ENV=$(VENV) $(BIN)/maturin develop --release
	touch $@

## Serve the example function on 0.0.0.0:8080; invoke it with
##   curl -XPOST "http://localhost:8080/2015-03-31/functions/function/invocations" -d '{}'
serve: develop
	$(BIN)/lambda-rie --code-dir examples/hello app.handler

bench: develop native
	mkdir -p target/bench
	$(BIN)/pytest benches --benchmark-enable --benchmark-json=target/bench/benchmarks.json

stress: develop native
	LAMBDA_RIE_STRESS=full cargo test -p lambda-rie-core --lib -- any_
	LAMBDA_RIE_STRESS=full $(BIN)/pytest tests -m stress

## Mixed load for 10 minutes per face; the resource samples' JSON path is printed.
soak: develop native
	LAMBDA_RIE_STRESS=full $(BIN)/pytest tests/test_soak.py -s

clean:
	cargo clean
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache python/lambda_rie/*.so
