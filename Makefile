# Inspection Studio — the two commands of the README quick start: `make run`, `make test`.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test bench screenshots clean-venv

# (Re)install when pyproject.toml changes; the stamp records a finished install.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet --editable '.[test]'
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/studio

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

bench: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) bench/bench_startup.py
	QT_QPA_PLATFORM=offscreen $(PY) bench/bench_event_latency.py

clean-venv:
	rm -rf $(VENV)
