# One entry point for people and CI. Every target installs what it needs first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
OUT    ?= out/demo
DAY    ?= 2026-07-15

.PHONY: install test lint typecheck pytest demo demo-dispatch demo-serve bench bench-quick clean system-deps

# Debian packages the test suite needs (a broker, and its command-line clients for the ACL
# tests that publish as an outsider would; chromium and a CJK font for the dashboard's
# browser tests and screenshots); installed only when missing.
system-deps:
	@missing=""; \
	command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing="$$missing mosquitto"; \
	command -v mosquitto_pub >/dev/null 2>&1 || missing="$$missing mosquitto-clients"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing="$$missing fonts-wqy-microhei"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = "0" ]; then apt-get update -qq && apt-get install -y -qq $$missing; \
		else echo "missing Debian packages:$$missing (sudo apt-get install$$missing)"; fi; \
	fi

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,openadr]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: system-deps $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest -q

test: lint typecheck pytest

# The demo district's peak day (2026-07-15, the scenario's day): capability at peak hours,
# then the whole day simulated, controller against simulated devices with faults; the
# report goes to $(OUT). `vpp simulate` exits 1 when an event misses its target, and so
# does this target: the demo is meant to meet it.
demo: install
	$(BIN)/vpp capability configs/districts/demo.yaml --day 2026-07-15
	$(BIN)/vpp simulate configs/scenarios/demo_peak_day.yaml --out $(OUT)

# The optimiser alone: capability, then one 5% dispatch at the peak hours of $(DAY).
demo-dispatch: install
	$(BIN)/vpp capability configs/districts/demo.yaml --day $(DAY)
	$(BIN)/vpp dispatch configs/districts/demo.yaml --day $(DAY) --target-pct 5 --out $(OUT)/dispatch

# The dashboard with something happening in it: vpp serve on the demo district with simulated
# devices on a clock 60 times faster than the wall, one 5%-of-peak event issued; prints the
# dashboard URL and an operator and an enterprise token, runs until Ctrl-C (PORT=8000).
PORT ?= 8000
demo-serve: install
	$(BIN)/python scripts/demo_serve.py --port $(PORT)

# The benchmark suite (docs/performance.md): dispatch at 100 to 10,000 resources against the
# reference emitter, re-dispatch, telemetry through a private Mosquitto, simulator speed.
# Over an hour on 2 cores now (a run stopped at 55 min on 2026-12-07 had not finished; the
# 5,000 x 16 case alone takes ~4.5 min): run one suite or case at a time with
# `python -m bench --only dispatch --case 1000x16`, which updates its rows in the file.
# Prints the tables, writes bench/results.json (after every step, so a stopped run keeps
# what it measured: "complete": false, "stopped_after"; `python -m bench --resume` goes
# on from there) and the scaling plot.
bench: install
	$(BIN)/python -m bench --plot docs/performance_scaling.png

# The same harness at tiny sizes (seconds): a smoke test, not a measurement.
bench-quick: install
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) out .mypy_cache .ruff_cache .pytest_cache
