# The two set-up commands of README.md: `make demo` and `make test`.
# Both create .venv once and reinstall only when pyproject.toml changes.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
SYSPKG := indi-bin mosquitto

.PHONY: demo test lint typecheck pytest sysdeps venv clean bench model

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev,train,xisf]'
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

bench: $(STAMP)
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
