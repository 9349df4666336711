# Confide: `make run` to try it on this machine, `make test` for the whole suite.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export FLASK_APP := app:create_app

.PHONY: run test unit install install-production lock lint fonts keys migrate translations messages bench clean redis systemd-units

# Every dependency, direct and indirect, at the version and hashes in requirements-dev.lock
# (the app's, the tests' and the tools'); `make lock` writes it from the ranges in pyproject.toml.
$(VENV)/.installed: pyproject.toml requirements-dev.lock
	@command -v python3 >/dev/null || { echo "Installing Python 3 (Debian package python3)…"; $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3 python3-venv; }
	@python3 -m venv $(VENV) 2>/dev/null || { echo "Installing python3-venv (Debian package)…"; $(SUDO) apt-get install -y -qq python3-venv && python3 -m venv $(VENV); }
	$(VENV)/bin/pip install -q --disable-pip-version-check --require-hashes -r requirements-dev.lock
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

# Production (deploy/README.md): the app's own dependencies only, from requirements.lock; the
# processes run from the project's folder, so the project itself is not installed.
install-production:
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check --require-hashes -r requirements.lock
	$(VENV)/bin/pybabel compile -d app/translations 2>&1 | grep -v "^compiling" || true

# Lint, format, types and the import layers (ARCHITECTURE.md); .ci/run runs it before the tests,
# and `pre-commit install` runs the same before each commit.
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# After changing a range in pyproject.toml: resolve again, keeping every pin that still fits;
# requirements.lock (production) holds the same versions as requirements-dev.lock.
LOCK := $(VENV)/bin/uv pip compile pyproject.toml --generate-hashes --universal --python-version 3.11 --no-header --no-annotate
lock: $(VENV)/.installed
	$(LOCK) --extra test --extra dev --extra bench -o requirements-dev.lock
	sed -n 's/^\([A-Za-z0-9._-]*==[^ ;]*\).*/\1/p' requirements-dev.lock > $(VENV)/pins.txt
	$(LOCK) --constraint $(VENV)/pins.txt -o requirements.lock

translations: $(VENV)/.installed
	@$(VENV)/bin/pybabel compile -d app/translations 2>&1 | grep -v "^compiling" || true

# After changing any text shown to people: refresh the catalogs, then translate what is new.
messages: $(VENV)/.installed
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output --omit-header -o app/translations/messages.pot .
	$(VENV)/bin/pybabel update -i app/translations/messages.pot -d app/translations --no-fuzzy-matching

install: $(VENV)/.installed translations

# The fonts of the referral packets' PDFs (app/referrals/pdf.py).
# Then the font cache (app/pdf/fontcache.py) for Simplified Chinese and Korean packets, built once.
fonts: $(VENV)/.installed
	@missing=""; \
	[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing="$$missing fonts-dejavu-core"; \
	[ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || missing="$$missing fonts-noto-cjk"; \
	[ -z "$$missing" ] || { echo "Installing$$missing (Debian packages)…"; $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $$missing; }
	@$(PY) -m app.pdf.fontcache 2 1

keys: install
	@$(FLASK) keys init --if-missing

# The schema, then the articles Confide ships for the rights library (`flask rights seed`:
# adds only what the library lacks, never changes what staff wrote).
migrate: keys
	@$(FLASK) db upgrade
	@$(FLASK) rights seed

# Redis is a service of the machine, like the database: Debian's, started if none answers.
redis:
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || { \
	  command -v redis-server >/dev/null || { echo "Installing redis-server (Debian package)…"; $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq redis-server; }; \
	  echo "Starting Redis on 127.0.0.1:6379…"; \
	  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null; \
	  for _ in $$(seq 50); do redis-cli ping >/dev/null 2>&1 && break; sleep 0.1; done; }

# The Procfile's processes under honcho (web on http://127.0.0.1:5000/); Ctrl-C stops them.
run: migrate fonts redis
	@$(FLASK) staff first-coordinator
	@echo "Confide: reporters at http://127.0.0.1:5000/report, staff at http://127.0.0.1:5000/staff/login"
	@PATH="$(CURDIR)/$(VENV)/bin:$$PATH" exec $(VENV)/bin/honcho start

# Production's systemd units, exported from the Procfile (deploy/README.md).
systemd-units: $(VENV)/.installed
	rm -rf deploy/systemd && $(VENV)/bin/honcho export --procfile Procfile --app confide --user confide --app-root . \
	  --env deploy/production.env --template-dir deploy/templates --concurrency worker=2 systemd deploy/systemd

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

# The unit tests alone: those that need no database, Redis or browser (seconds).
unit: install
	$(PY) -m pytest -m unit -q $(PYTEST_ARGS)

bench: install
	$(PY) bench/intake.py

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis
