# The two commands: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run serve test faults install install-dev lint typecheck pytest bench bench-workers bench-quality bench-quality-hebo bench-multifidelity bench-gp-latency bench-dashboard bench-carbs bench-ac bench-load vendor-plotly vendor-docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# torch first, pinned: an unpinned torch pulls CUDA builds several GB large.
$(VENV)/.installed-all: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[all]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed-all
	$(BIN)/pip install -q -e '.[all,dev]'
	touch $@

install: $(VENV)/.installed-all
install-dev: $(VENV)/.installed-dev

# The server, the example study and a local Ray worker training it; Ctrl-C stops all.
run: install
	$(BIN)/python examples/local_system.py --host $(HOST) --port $(PORT)

# The server alone.
serve: install
	$(BIN)/tunehub server --host $(HOST) --port $(PORT)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy needs the import layout (tunehub/, tunehub/server/, ...), not the source folders:
# build it as a tree of links.
typecheck: install-dev
	rm -rf build/typecheck && mkdir -p build/typecheck/tunehub
	cp -rs "$(CURDIR)/sdk/." build/typecheck/tunehub/
	ln -s "$(CURDIR)/server" build/typecheck/tunehub/server
	ln -s "$(CURDIR)/workers" build/typecheck/tunehub/workers
	ln -s "$(CURDIR)/migrations" build/typecheck/tunehub/migrations
	cd build/typecheck && "$(CURDIR)/$(BIN)/mypy" --config-file "$(CURDIR)/pyproject.toml" -p tunehub

pytest: install-dev
	$(BIN)/pytest -q --durations=30 $(PYTEST_ARGS)

test: lint typecheck pytest

# The fault suites in their long form (make test runs them shortened): more fuzzing,
# more kills of the server under load.
faults: install-dev
	TUNEHUB_FAULTS=long $(BIN)/pytest -q tests/faults tests/integration/test_concurrency.py

bench: install-dev
	$(BIN)/python -m bench.throughput

bench-workers: install-dev
	$(BIN)/python -m bench.workers

# Every policy against its peers on the quality problems (bench/results/quality/).
# BENCH_ARGS narrows it, e.g. BENCH_ARGS="--half development --families synthetic".
bench-quality: install-dev
	$(BIN)/pip install -q -e '.[all,dev,bench]'
	$(BIN)/python -m bench.quality $(BENCH_ARGS)

# HEBO pins numpy<1.25: it gets its own virtualenv, which bench/quality's `hebo` drives.
bench-quality-hebo: .venv-hebo/bin/hebo-installed

.venv-hebo/bin/hebo-installed:
	$(PYTHON) -m venv .venv-hebo
	.venv-hebo/bin/pip install -q torch==2.13.0
	.venv-hebo/bin/pip install -q 'hebo==0.3.6'
	touch $@

# Schedulers against dehb, Optuna Hyperband, Ray Tune ASHA and random (bench/results/multifidelity/).
# The dehb package pins numpy<2 but runs on numpy 2 through its ask/tell loop: no deps.
bench-multifidelity: install-dev
	$(BIN)/pip install -q --no-deps 'dehb==0.1.2' 'loguru>=0.5.3'
	$(BIN)/pip install -q 'hpbandster==0.7.4'  # Ray Tune's BOHB
	$(BIN)/python -m bench.multifidelity

# The gp policy's ask latency at 50, 200 and 1,000 trials beside Optuna's GPSampler.
bench-gp-latency: install-dev
	$(BIN)/python -m bench.gp_latency

# The dashboard's study page on 10,000 trials, in Chromium (bench/results/dashboard.json).
bench-dashboard: install-dev
	$(BIN)/python -m bench.dashboard

bench-carbs: install-dev
	$(BIN)/python -m bench.carbs

# ac-race and ac-band against SMAC3's AC facade; rising-bandit against gp on CASH (bench/results/ac/).
# 64 clients for 60 s on PostgreSQL, 2 server processes, Optuna's RDB storage beside it.
bench-load: install-dev
	$(BIN)/python -m bench.load

bench-ac: install-dev
	$(BIN)/pip install -q smac
	$(BIN)/python -m bench.ac

# The dashboard's vendored Plotly bundle, fetched again from npm (the version and
# checksum it must match are in server/dashboard/__init__.py).
PLOTLY_VERSION = 4.1.1
vendor-plotly:
	rm -rf build/plotly && mkdir -p build/plotly
	cd build/plotly && npm pack --silent plotly.js-basic-dist-min@$(PLOTLY_VERSION) && tar xzf *.tgz
	cp build/plotly/package/plotly-basic.min.js server/dashboard/static/
	cp build/plotly/package/LICENSE server/dashboard/static/plotly-LICENSE.txt

# The API docs' vendored Swagger UI and ReDoc, fetched again from npm (the versions and
# checksums they must match are in server/api/docs.py).
SWAGGER_UI_VERSION = 5.36.0
REDOC_VERSION = 3.0.1
vendor-docs:
	rm -rf build/swagger-ui build/redoc && mkdir -p build/swagger-ui build/redoc
	cd build/swagger-ui && npm pack --silent swagger-ui-dist@$(SWAGGER_UI_VERSION) && tar xzf *.tgz
	cd build/redoc && npm pack --silent redoc@$(REDOC_VERSION) && tar xzf *.tgz
	cp build/swagger-ui/package/swagger-ui-bundle.js build/swagger-ui/package/swagger-ui.css server/api/docs_static/
	cp build/swagger-ui/package/swagger-ui-bundle.js.LICENSE.txt server/api/docs_static/
	cp build/swagger-ui/package/LICENSE server/api/docs_static/swagger-ui-LICENSE.txt
	cp build/swagger-ui/package/NOTICE server/api/docs_static/swagger-ui-NOTICE.txt
	cp build/redoc/package/bundles/redoc.standalone.js server/api/docs_static/
	cp build/redoc/package/LICENSE server/api/docs_static/redoc-LICENSE.txt

clean:
	rm -rf build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
