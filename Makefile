# The two set-up commands of README.md: `make demo` and `make test`.
# Both create .venv once and reinstall only when pyproject.toml changes.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
SYSPKG := indi-bin mosquitto

.PHONY: demo test lint typecheck pytest sysdeps venv clean model

venv: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev,train,xisf,dask]'
	# Optional INDI backend: only this wheel works with Debian's libindi 1.9.9, and only
	# without its declared dependencies (dbus-python does not build). See docs/indi.md.
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps pyindi-client==2.3.0
	@touch $(STAMP)

# indiserver and mosquitto come from Debian; installing them does not start them
# (the tests start their own on free loopback ports).
sysdeps:
	@missing=""; \
	command -v indiserver >/dev/null 2>&1 || missing="$$missing indi-bin"; \
	command -v mosquitto >/dev/null 2>&1 || test -x /usr/sbin/mosquitto || missing="$$missing mosquitto"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
		echo "installing system packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else \
		echo "missing system packages:$$missing"; \
		echo "run: sudo apt-get install -y$$missing"; \
	fi

demo: $(STAMP)
	$(BIN)/astroiqa-indi demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest -q

test: sysdeps lint typecheck pytest

# The shipped model: render the training and held-out sets, train, evaluate.
# The held-out sets use random rigs and seeds never seen in training.
DATA := data
model: $(STAMP)
	$(BIN)/astroiqa-indi simulate frames --out $(DATA)/train-named --per-class 300 --seed 1001 --size 512x512 --workers 2
	$(BIN)/astroiqa-indi simulate frames --out $(DATA)/train-random --per-class 300 --seed 1002 --random-rigs --size 640x640 --workers 2
	$(BIN)/astroiqa-indi simulate frames --out $(DATA)/test-clear --per-class 100 --seed 2001 --random-rigs --size 640x640 --workers 2
	$(BIN)/astroiqa-indi simulate frames --out $(DATA)/test-boundary --per-class 100 --seed 2002 --random-rigs --boundary --size 640x640 --workers 2
	$(BIN)/astroiqa-indi train --data $(DATA)/train-named $(DATA)/train-random --out astroiqa_indi/grading/model --seed 0 --epochs 200 --som-shape 8x8 --som-epochs 20,30 --jobs 2
	$(BIN)/astroiqa-indi evaluate --data $(DATA)/test-clear --jobs 2
	$(BIN)/astroiqa-indi evaluate --data $(DATA)/test-boundary --jobs 2

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
