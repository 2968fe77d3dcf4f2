# Every target bootstraps its own virtual environment (.venv/), re-created when
# pyproject.toml or requirements.lock changes. Nothing needs to be installed by hand.
SHELL   := /bin/bash
PYTHON  ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
# A workshop's backend, set once: `export TUTORIAL_BACKEND=host` (the lessons' parameters cells read it too).
BACKEND ?= $(or $(TUTORIAL_BACKEND),local)
PYTEST  := $(BIN)/python -m pytest -p no:cacheprovider
# The unit tests share no cluster and no port between files: one file per core at a time.
UNIT    := $(PYTEST) -n 2 --dist loadfile tests/unit
# Left out of the lock on purpose: see requirements.lock's header (jsonschema imports rfc3987-syntax if present,
# 2.1 s in every Ray process). An environment made before keeps them until uninstalled.
LEFT_OUT := rfc3987-syntax lark
space    := $(subst ,, )

.PHONY: host-build host-env transcripts bench bench-tables notebooks help ko run test test-fast test-unit test-kind workshop-prep lab down clean lock venv reset lint grade

help:
	@echo "make run       execute every notebook (BACKEND=$(BACKEND)) and print a summary (LESSONS=\"03 07\": only those)"
	@echo "make test      the whole test suite (unit, integration, notebooks, the host cluster)"
	@echo "make test-fast ruff and the unit tests (no Ray cluster; the inner loop)"
	@echo "make ko        rebuild the Korean edition (notebooks/ko, labs/ko) from the English + translation files"
	@echo "make lab       JupyterLab on 127.0.0.1"
	@echo "make down      stop everything the tutorial started (BACKEND=kind deletes the kind cluster)"
	@echo "make reset     down, then a fresh cluster (a learner's clean slate; labs/answers/ is kept)"
	@echo "make lint      check every RayService manifest (FILES=... for others)"
	@echo "make grade     LAB=lab03: re-run one lab's check on the saved answer; without LAB: every lab's result"
	@echo "make host-build build the host backend (Kubernetes, containerd, KubeRay, images) into the cache, once"
	@echo "make host-env  print the export lines that point a terminal's kubectl at the host cluster"
	@echo "make transcripts  record what the lessons' kubectl steps print on the host cluster (shown on local)"
	@echo "make test-kind the lessons on a real kind cluster (needs Docker, kind, kubectl, helm)"
	@echo "make workshop-prep  pull every image once and load it into the kind cluster"
	@echo "make clean     down, then remove build/ and .state/"
	@echo "make bench     measure scenarios, lessons and labs; write bench/results.json, regenerate the docs' figures"

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-deps -r requirements.lock
	$(BIN)/python -m pip uninstall --quiet --yes $(LEFT_OUT) 2> /dev/null
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip check
	$(BIN)/python -m ipykernel install --sys-prefix --name rayservice-tutorial \
	    --display-name "RayService tutorial" > /dev/null
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m helpers run --backend $(BACKEND) $(if $(LESSONS),--only $(LESSONS)) $(if $(TUTORIAL_LANG),--lang $(TUTORIAL_LANG))

# The Korean edition (notebooks/ko, labs/ko), rebuilt from the English notebooks and ko/translations/*.yaml.
ko: $(STAMP)
	$(BIN)/python -m helpers.translate

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(UNIT)
	$(PYTEST) --durations=8 -m "not host" tests/integration
	$(PYTEST) --durations=8 tests/notebooks
	$(BIN)/python -m helpers down
	$(MAKE) --no-print-directory host-build
	$(PYTEST) -rs --durations=8 -m host tests/integration/test_backends_alike.py
	$(PYTEST) -rs --durations=8 tests/host
	$(BIN)/python -m helpers down --backend host

# The figures the docs quote: scenarios under traffic, every lesson and lab, twice (RUNS). The result is committed
# in bench/results.json (every run, medians and maxima, per backend); README's and INSTRUCTOR.md's tables are
# generated from it. `make bench BACKEND=host RUNS=1`: the same scenarios on the host backend's real Kubernetes.
bench: $(STAMP)
	$(BIN)/python -m helpers bench --runs $(or $(RUNS),2) --backend $(BACKEND)

# Regenerate the docs' figure tables from the committed bench/results.json (no cluster needed).
bench-tables: $(STAMP)
	$(BIN)/python -m helpers bench --tables

# The inner loop: lint and unit tests, no Ray cluster (under 2 minutes).
test-fast: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(UNIT)

test-unit: $(STAMP)
	$(UNIT)

# The host backend's build: Kubernetes, etcd, containerd, runc, the CNI plugins, crictl, CoreDNS and the KubeRay
# operator from their Go modules (host/), and the images, into the cache outside the repository. A no-op when the
# cache is current; the first build takes long (CONTRIBUTING.md has the figures). Debian's tools it needs first.
HOST_APT := debootstrap nftables iproute2 libseccomp-dev
host-build: $(STAMP)
	@missing=$$(for p in $(HOST_APT); do dpkg -s $$p > /dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then echo "apt-get install $$missing"; apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing > /dev/null; fi
	$(BIN)/python -m helpers host-build

# Maintainers: lessons 01-08 on the host backend, recording what every "On Kubernetes" step prints, into
# helpers/data/transcripts.json (the local backend shows it under each step). Again after changing a manifest.
transcripts: host-build
	$(BIN)/python -m helpers transcripts

host-env: $(STAMP)
	@$(BIN)/python -m helpers host-env

# The lessons on kind (papermill + nbval with tests/kind/sanitize-kind.cfg). Not part of `make test`:
# it needs a Docker engine. .github/workflows/kind-e2e.yml runs it.
test-kind: $(STAMP)
	$(PYTEST) -rs tests/kind

workshop-prep: $(STAMP)
	$(BIN)/python -m helpers workshop-prep --backend kind

# JupyterLab with the project's settings defaults (.jupyterlab/overrides.json, the app settings directory): no
# "get notified about Jupyter news?" pop-up, no request to the news feed. A learner's own settings still win.
LAB_SETTINGS := $(CURDIR)/.jupyterlab
lab: $(STAMP)
	$(BIN)/jupyter lab --ip=127.0.0.1 --no-browser --notebook-dir=. --LabApp.app_settings_dir="$(LAB_SETTINGS)" \
	    $(if $(filter 0,$(shell id -u)),--allow-root,)

down: $(STAMP)
	$(BIN)/python -m helpers down --backend $(BACKEND)

reset: $(STAMP)
	$(BIN)/python -m helpers down --backend $(BACKEND)
	$(BIN)/python -m helpers up manifests/ray-service.yaml --backend $(BACKEND)

FILES ?= manifests/ray-service*.yaml
lint: $(STAMP)
	$(BIN)/python -m helpers lint $(FILES)

grade: $(STAMP)
	$(BIN)/python -m helpers grade $(if $(LAB),$(LAB),--status) --backend $(BACKEND)

clean: down
	rm -rf build .state

# Re-resolve the environment from pyproject.toml and write the lock (needs the package index).
lock:
	rm -rf build/lock-venv && $(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/python -m pip install --quiet --upgrade pip
	build/lock-venv/bin/python -m pip install --quiet -e .
	( echo "# The resolved environment, installed with --no-deps by the Makefile. Regenerate with \`make lock\`."; \
	  echo "# Left out on purpose: rfc3987-syntax and lark (jsonschema[format-nongpl], wanted by jupyter-events, only"; \
	  echo "# to check the 'iri' format). jsonschema imports rfc3987-syntax when it is there, which builds its grammar"; \
	  echo "# in 2.1 s, and every Ray process imports jsonschema: without it \`import ray\` takes 0.9 s instead of 3.4."; \
	  build/lock-venv/bin/python -m pip freeze --exclude-editable \
	    | grep -v -i -E '^(rayservice-tutorial|$(subst $(space),|,$(LEFT_OUT)))==' ) > requirements.lock
	rm -rf build/lock-venv

# Maintainers: re-record the reference outputs nbval checks (a real run; review the diff).
notebooks: $(STAMP)
	$(BIN)/python -m helpers refresh
