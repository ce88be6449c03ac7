# Two commands: `make demo` (set up, replay the sample captures) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
APT_PACKAGES := tshark tcpdump tcpreplay prometheus iproute2 time nftables chromium \
	systemd strace libseccomp2 util-linux
SAMPLES := pcaps/demo_day.pcap.gz

.PHONY: setup system-deps demo test lint bench mutation fuzz backfill clean

$(STAMP): pyproject.toml setup.py $(wildcard monitor/*/*.c monitor/native/*.h)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# The tests cross-check against real tools. Install them when missing and root;
# otherwise the tests that need them skip with the reason (and fail when CI is set, e.g. CI=1).
system-deps:
	@missing=""; \
	for tool in tshark capinfos tcpdump tcpreplay promtool prometheus nft chromium \
	    systemd-analyze strace setpriv unshare; do \
	  command -v $$tool >/dev/null 2>&1 || missing="$$missing $$tool"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing system packages for:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES) >/dev/null; \
	  else \
	    echo "note: missing$$missing; tests that need them will be skipped"; \
	  fi; \
	fi

demo: setup
	@mkdir -p out
	$(BIN)/cctv-monitor replay $(SAMPLES) --config pcaps/site.yaml \
	  --report out/demo-report.html --flows out/demo-flows.csv \
	  --evidence out/demo-evidence.pcap --metrics-out out/demo-metrics.om; \
	status=$$?; [ $$status -le 1 ] || exit $$status
	@echo
	@echo "HTML report:   out/demo-report.html"
	@echo "flow table:    out/demo-flows.csv"
	@echo "evidence pcap: out/demo-evidence.pcap"
	@echo "metrics:       out/demo-metrics.om"

test: setup system-deps
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy monitor

# History from a capture: replay with --metrics-out, backfill into a Prometheus TSDB.
PCAP   ?= $(SAMPLES)
CONFIG ?= pcaps/site.yaml
backfill: setup system-deps
	@mkdir -p out
	$(BIN)/cctv-monitor replay $(PCAP) --config $(CONFIG) --no-progress --json \
	  --metrics-out out/backfill.om > out/backfill-report.json; \
	status=$$?; [ $$status -le 1 ] || exit $$status
	rm -rf out/tsdb && promtool tsdb create-blocks-from openmetrics out/backfill.om out/tsdb
	@echo "TSDB in out/tsdb: prometheus --storage.tsdb.path=out/tsdb --config.file=dashboards/prometheus/prometheus.example.yml"

bench: setup
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/make_capture.py
	$(BIN)/python bench/run_replay.py

# Mutation testing of the deciding code (not part of `make test`; ~5 min on 2 cores).
# Ends with `mutation: K/N killed`; equivalent mutants: tests/mutation/equivalent.toml.
mutation: setup
	$(BIN)/pip install --quiet -e '.[mutation]'
	$(BIN)/python tools/mutation.py $(MUTATION_ARGS)

# Sanitizer fuzzing of the readers, decoder, grouping, dissectors and pipeline (ASan +
# UBSan build in build/asan, atheris when installed). `make test` runs a one-minute smoke;
# run it for hours with e.g. `make fuzz FUZZ_SECONDS=28800`. Crashes land in tests/fuzz/regressions.
FUZZ_SECONDS ?= 3600
fuzz: setup
	$(BIN)/python tools/fuzz/run.py --seconds $(FUZZ_SECONDS) $(FUZZ_ARGS)

clean:
	rm -rf $(VENV) out build .pytest_cache .ruff_cache mutants
