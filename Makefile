# Inspection Studio — the two commands of the README quick start: `make run`, `make test`.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test bench screenshots clean-venv package package-check

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

# The user guides' screenshots (docs/screenshots/*.png): each tab of a first start, offscreen.
screenshots: $(STAMP)
	@for tab in unmixing segmentation audio sem; do \
	  home=$$(mktemp -d); \
	  STUDIO_HOME=$$home QT_QPA_PLATFORM=offscreen $(VENV)/bin/studio --screenshot docs/screenshots/$$tab.png --tab $$tab || exit 1; \
	  rm -rf $$home; \
	done

bench: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) bench/bench_startup.py
	QT_QPA_PLATFORM=offscreen $(PY) bench/bench_event_latency.py

# The one-folder desktop app (packaging/README.md): dist/inspection-studio/.  Not part of `make test`.
package: $(STAMP)
	@$(PY) -c "import PyInstaller" 2>/dev/null || $(PY) -m pip install --quiet --editable '.[test,package]'
	$(PY) -m PyInstaller --noconfirm --distpath dist --workpath build/pyinstaller packaging/inspection_studio.spec
	$(PY) packaging/check_bundle.py dist/inspection-studio

package-check:
	$(PY) packaging/check_bundle.py dist/inspection-studio

clean-venv:
	rm -rf $(VENV)
