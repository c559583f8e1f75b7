# One Makefile for developers and CI alike.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
APT_PACKAGES := docker.io docker-registry skopeo git busybox-static apache2-utils rpm db-util chromium
# what `make bench` needs beyond the tests' packages (debootstrap builds the 1 GB image's Debian base)
BENCH_APT_PACKAGES := debootstrap
TESTS ?=
PYTEST_ARGS ?=

.PHONY: install system-deps demo test lint bench fixtures fixtures-check fuzz golden clean

# setup.py builds the two C modules (git history's changed lines, the decoders' run trigger);
# without a compiler the install goes on and the same work is done without them
$(BIN)/leakscan: pyproject.toml setup.py leakscan/sources/git/_delta.c leakscan/engine/_runs.c
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	@# this tree was once installed as the distribution "leakscan" (a name on PyPI that is not
	@# ours, now leakscan-secrets): drop that editable install of this same tree, nothing else
	@if $(BIN)/pip show leakscan 2>/dev/null | grep -qx "Editable project location: $(CURDIR)"; then \
	  $(BIN)/pip uninstall -y -q leakscan; fi
	$(BIN)/pip install -q -e '.[dev,dask]'
	@# the C modules are optional where they cannot be built; where they can, a failed build
	@# (a mistake in the C) must not pass unseen: the tests of the C would only be skipped
	@$(BIN)/python -c "import leakscan.sources.git._delta, leakscan.engine._runs" 2>/dev/null || \
	  if command -v cc >/dev/null && $(BIN)/python -c "import os, sys, sysconfig; \
	      sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h')))"; then \
	    echo "error: a C compiler and Python's headers are here, yet leakscan's C modules did not build: $(BIN)/pip install -e . shows why"; \
	    exit 1; \
	  else \
	    echo "note: no C compiler or Python headers: the C modules were not built; leakscan works without them (same findings, slower)"; \
	  fi
	touch $(BIN)/leakscan

# apt packages the tests need (real dockerd, registry, skopeo, git, a static busybox for RUN steps,
# rpm and db_load to build real rpm databases, chromium to check the audit HTML report)
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing >/dev/null; \
	fi

install: system-deps $(BIN)/leakscan

demo: install
	$(BIN)/python fixtures/demo/build.py
	-$(BIN)/leakscan scan fixtures/demo/manifests --no-progress
	-$(BIN)/leakscan scan image docker-archive:fixtures/demo/build/app-image.tar --no-progress
	-$(BIN)/leakscan scan git fixtures/demo/build/repo --no-progress
	@echo "== all three in one run: a secret found in several sources is one finding"
	-$(BIN)/leakscan scan fixtures/demo/manifests git:fixtures/demo/build/repo docker-archive:fixtures/demo/build/app-image.tar --no-progress
	@echo "demo done (exit code 1 above means: secrets found, as planted)"

# PYTHONDONTWRITEBYTECODE emptied: the suite starts ~200 `python -m leakscan.cli` processes and
# imports ~350 test modules; with it set, each of them compiles its modules from source again
test: install
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -q -p no:cacheprovider $(if $(TESTS),-k "$(TESTS)") $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check leakscan tests bench
	$(BIN)/ruff format --check leakscan tests bench
	$(BIN)/mypy leakscan

bench: install
	$(MAKE) --no-print-directory system-deps APT_PACKAGES="$(BENCH_APT_PACKAGES)"
	$(BIN)/pip install -q -e '.[dev,dask,bench]'
	$(BIN)/python -m bench $(BENCH_ARGS)

fixtures: install
	$(BIN)/python fixtures/demo/build.py --force

# the committed fixtures match their generator: regenerate a copy elsewhere and compare
# (nothing in the working tree is touched; `make fixtures` rewrites them)
fixtures-check: install
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	cp -R fixtures "$$tmp/fixtures"; rm -rf "$$tmp/fixtures/demo/build" "$$tmp/fixtures/demo/manifests"; \
	$(BIN)/python "$$tmp/fixtures/demo/build.py" --force >/dev/null; \
	rm -rf "$$tmp/fixtures/demo/build"; \
	diff -r fixtures "$$tmp/fixtures" -x build -x __pycache__ \
	  || { echo "fixtures/ differs from its generator: run 'make fixtures' and review the diff"; exit 1; }; \
	echo "fixtures/ matches fixtures/demo/build.py"

# the report golden files (tests/report/golden/), rewritten on purpose: review the diff
golden: install
	$(BIN)/python fixtures/reports/make.py
	LEAKSCAN_UPDATE_GOLDEN=1 $(BIN)/python -m pytest -q -p no:cacheprovider tests/report/test_golden.py

# every fuzz target (tests/fuzz/, and the other hypothesis tests named fuzz) with a large budget:
# FUZZ_EXAMPLES inputs per target (make test runs a few dozen each)
FUZZ_EXAMPLES ?= 2000
fuzz: install
	LEAKSCAN_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) HYPOTHESIS_PROFILE=fuzz \
	  $(BIN)/python -m pytest -q -p no:cacheprovider tests -k fuzz $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info fixtures/demo/build
