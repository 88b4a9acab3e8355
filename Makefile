# alphaquant: `make demo` sets everything up and searches a coq_project file offline;
# `make test` runs the tests; `make bench` prints the engine's figures.
PY ?= python3
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install demo test test-rocq bench bench-stdlib lean lint

COQ_PACKAGES := coq libcoq-hammer libcoq-dpdgraph eprover z3 cvc4 libcoq-interval libcoq-gappa gappa \
                libcoq-flocq

install:
	@missing=""; for p in $(COQ_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then $(SUDO) apt-get update -qq && \
	  $(SUDO) apt-get install -y -qq $$missing >/dev/null; fi
	$(PY) -m pip install -q -e ".[dev,llm,report,cluster,dojo,learn,lean]"

demo: install
	alphaquant search coq_project/Groq.v --offline --budget 60; test $$? -le 1

test:
	$(PY) -m pytest -q

# The Coq tests and a coq_project batch on Rocq 9 (Debian sid's coq), in a sid chroot built once
# with debootstrap and kept in ROCQ_CHROOT (needs root; see .ci/rocq).
test-rocq:
	.ci/rocq all

bench:
	$(PY) bench/bench_engine.py
	$(PY) bench/bench_batch.py
	$(PY) bench/bench_locate.py

bench-stdlib:
	$(PY) bench/stdlib_goals.py --budget 30

lint:
	ruff check alphaquant tests bench
	mypy alphaquant/provers alphaquant/search

lean:
	$(PY) -m alphaquant.setup_lean
