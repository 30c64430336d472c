# estate-ops: the two commands a newcomer needs are `make demo` and `make test`.
# Every target bootstraps .venv from requirements.txt + requirements-dev.txt + constraints.txt first.
PY := .venv/bin/python

.PHONY: bootstrap demo test ui cluster cluster-stop bench lint clean

bootstrap:
	@bash scripts/bootstrap.sh

demo: bootstrap ## run every DAG once against the sandbox; results in demo-output/
	@bash scripts/system-deps.sh
	@$(PY) -m devtools.demo

test: bootstrap ## the whole test suite
	@bash scripts/system-deps.sh
	@$(PY) -m pytest $(PYTEST_ARGS)

ui: bootstrap ## the seeded sandbox + airflow standalone (Ctrl-C stops both)
	@$(PY) -m devtools.ui

cluster: bootstrap ## PostgreSQL, Redis, api-server, scheduler, dag-processor, triggerer, 2 Celery workers, sandbox
	@bash scripts/system-deps.sh
	@$(PY) -m devtools.cluster start

cluster-stop: ## stop everything `make cluster` started
	@$(PY) -m devtools.cluster stop

bench: bootstrap ## benchmarks; figures in bench-results.json
	@$(PY) -m bench.run $(AREAS)

lint: bootstrap
	@.venv/bin/ruff check .

clean:
	rm -rf .airflow .airflow-test demo-output test-output bench-results.json .sandbox
