# soundbridge: two commands do everything on a fresh machine (Debian-like, Python 3.11, JDK 17, Maven).
#   make demo   set up, start Neo4j, ingest every dataset, show a result
#   make test   set up, lint, type-check and run the whole test suite (database tests included)

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
WEB    := soundbridge/dashboard/web
# Configuration, overridable from the environment. The datasets are never copied into the repo.
export SOUNDBRIDGE_DATA ?= $(abspath ../shared/data)
export SOUNDBRIDGE_HOME ?= $(HOME)/.soundbridge

.PHONY: setup demo test lint bench system-packages serve neo4j-start neo4j-stop ingest clean packaged-run

setup: $(VENV)/.installed $(VENV)/.musicnn-installed $(VENV)/.neo4j-installed $(WEB)/node_modules/.installed

# Re-runs pip only when pyproject.toml changes; a second `make setup` is a no-op.
$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

# The pretrained musicnn tagger's weights ship in its PyPI wheel; its own code wants TensorFlow 1.x
# and NumPy < 1.17, which soundbridge never imports (audio/musicnn.py reads the checkpoints), so it
# is installed without its dependencies.
$(VENV)/.musicnn-installed: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet --no-deps 'musicnn==0.1.0'
	@touch $@

# Neo4j's jars come from Maven Central through server/pom.xml into a cache outside the repo.
$(VENV)/.neo4j-installed: server/pom.xml $(VENV)/.installed
	$(BIN)/soundbridge neo4j install
	@touch $@

# The dashboard's scripts, styles and map shapes come from the npm registry (served locally, no CDN).
$(WEB)/node_modules/.installed: $(WEB)/package.json $(WEB)/package-lock.json
	npm ci --prefix $(WEB) --no-audit --no-fund --loglevel=error
	@touch $@

# Debian packages the tests need: Chromium for the browser tests (browser downloads are impossible
# here) and FluidSynth with a General MIDI soundfont to render the music21 tunes for the audio
# factors. Installed with apt when missing (needs root, as on CI).
system-packages:
	@command -v chromium >/dev/null 2>&1 && command -v fluidsynth >/dev/null 2>&1 && \
	  test -f /usr/share/sounds/sf2/FluidR3_GM.sf2 || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	  chromium fluidsynth fluid-soundfont-gm; }

# Starts the local Neo4j if nothing answers at NEO4J_URI, ingests (skipped when the data did not
# change) and prints what the graph answers.
demo: setup system-packages
	$(BIN)/soundbridge demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint system-packages
	$(BIN)/pytest --durations=15

bench: setup
	$(BIN)/python bench/ingest_throughput.py --out bench/results/ingest_throughput.json
	$(BIN)/python bench/audio_speed.py --out bench/results/audio_speed.json

serve: setup
	$(BIN)/soundbridge serve

neo4j-start: setup
	$(BIN)/soundbridge neo4j start

neo4j-stop: setup
	$(BIN)/soundbridge neo4j stop

# Retrains the audio factor model the package ships (audio/data/default_run, a few MB) from the
# data, evaluates it and packs it with its factors and figures: about 15 minutes on 2 cores.
PACK_RUN := $(SOUNDBRIDGE_HOME)/audio/packaging
packaged-run: setup system-packages
	rm -rf $(PACK_RUN)
	$(BIN)/soundbridge audio train --run $(PACK_RUN)
	$(BIN)/soundbridge audio evaluate --run $(PACK_RUN)
	$(BIN)/soundbridge audio pack audio/data/default_run --run $(PACK_RUN)

# Loads every dataset into the graph at NEO4J_URI (idempotent; skipped work is quick).
ingest: setup
	$(BIN)/soundbridge ingest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
