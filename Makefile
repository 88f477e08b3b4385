# waveflow: `make test` sets up .venv and runs lint + tests (the documentation site's strict build
# included); `make demo` runs the LJSpeech recipe on the bundled corpus; `make docs` builds the site.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup browser test lint demo docs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,eval,export,docs]'
	touch $(STAMP)

setup: $(STAMP)

# Optional: Debian's headless Chromium, which opens the listening report in a test
# (tests/test_listening_report.py; skipped with the reason when no Chromium is installed).
browser:
	command -v chromium > /dev/null || (apt-get update && apt-get install -y chromium)

lint: $(STAMP)
	$(BIN)/ruff check waveflow tests tools recipes hubconf.py

test: lint
	$(BIN)/python -m pytest -q

# The LJSpeech recipe on the bundled corpus: about 4 minutes of CPU training (conf/fast.yaml),
# synthesis of the 5 held-out clips and a summary table. Starts afresh every time (exp/demo is removed first).
# One torch thread: this small model runs about as fast on one thread as on two of an idle
# 2-core machine, and several times faster than on two when the machine is busy.
demo: $(STAMP)
	rm -rf exp/demo
	OMP_NUM_THREADS=1 WAVEFLOW=$(CURDIR)/$(BIN)/waveflow recipes/ljspeech/run.sh --stage 1 --stop-stage 4 \
		--conf recipes/ljspeech/conf/fast.yaml --db-root data/demo-ljspeech --exp exp/demo \
		--ngpu 0

# The documentation site (mkdocs.yml, docs/) into site/; `$(BIN)/mkdocs serve` previews it.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) build site *.egg-info
