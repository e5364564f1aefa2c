# dockyard.registry developer targets. `./dev <target>` runs these after making sure `make` exists.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv
PY := $(VENV)/bin/python
MOLECULE := $(VENV)/bin/molecule
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PY_COLORS ?= 0
export ANSIBLE_FORCE_COLOR ?= 0
# Longest first: MOLECULE_JOBS lanes take them in this order (default ~15 min, nginx ~11, registry ~7,
# ca ~6, htpasswd ~4, client_trust ~2 on CI's 2 vCPU); scenarios not listed follow.
# SCENARIOS_LONG are outside ./dev test (CI's 45-minute budget): `./dev molecule-long`.
# operations: every day-2 operation under a load loop, 19-25 min alone.
SCENARIOS_ORDER := default nginx registry ca htpasswd client_trust
SCENARIOS_LONG := operations ha
SCENARIOS ?= $(SCENARIOS_ORDER) $(filter-out $(SCENARIOS_ORDER) $(SCENARIOS_LONG) resources,$(notdir $(wildcard molecule/*)))

.PHONY: help bootstrap lab-images lab lab-verify lab-down unit lint sanity labtest labtest-long molecule molecule-long test build clean distclean

help:
	@echo "./dev lab        bring up the lab, deploy playbooks/site.yml, push/pull through the proxy"
	@echo "./dev test       everything: lint, unit, sanity, lab tests, molecule ($(SCENARIOS))"
	@echo "./dev clean      remove lab containers, networks and volumes (distclean: images, caches, .venv)"
	@echo "./dev lab-verify the default scenario's whole testinfra suite against the running lab"
	@echo "other targets:   bootstrap lab-images unit lint sanity labtest labtest-long molecule molecule-long build"

bootstrap:
	@scripts/bootstrap.sh

lab-images: bootstrap
	@$(PY) lab/labctl.py build

# site.yml ends with playbooks/verify.yml (push and pull through the proxy, every client's docker
# pull): the summary reports what it did. The default scenario's whole testinfra suite (failover,
# rotation, token mode, ~6 min) is `./dev lab-verify`, and part of ./dev test.
lab: lab-images
	$(MOLECULE) converge -s default
	@$(PY) lab/labctl.py summary

lab-verify: bootstrap
	$(MOLECULE) verify -s default

lab-down: bootstrap
	$(MOLECULE) destroy -s default

unit: bootstrap
	$(PY) -m pytest tests/unit -q -m "not lab" -n auto || [ $$? -eq 5 ]

lint: bootstrap
	$(VENV)/bin/yamllint -s .
	$(VENV)/bin/ansible-lint

sanity: bootstrap
	scripts/sanity.sh

# tests/lab, and the unit tests marked `lab` (a real registry from the lab image).
labtest: lab-images
	DOCKYARD_REQUIRE_LAB=1 $(PY) -m pytest tests/lab -q -m "lab and not long_lab"
	DOCKYARD_REQUIRE_LAB=1 $(PY) -m pytest tests/unit -q -m lab

# Lab tests too long for CI (backend-tls.yml, the basic-to-token move and rotate-ca.yml under load, each on a bench lab, 8-25 min each).
labtest-long: lab-images
	DOCKYARD_REQUIRE_LAB=1 $(PY) -m pytest tests/lab -q -s -m long_lab

# Scenarios run MOLECULE_JOBS at a time (default 2); each host name is scenario-unique.
molecule: lab-images
	scripts/molecule-all.sh $(SCENARIOS)

# The scenarios too long for CI (SCENARIOS_LONG), two at a time like the others.
molecule-long: lab-images
	scripts/molecule-all.sh $(SCENARIOS_LONG)

build: bootstrap
	$(VENV)/bin/ansible-galaxy collection build --force --output-path .cache/dist .
	scripts/install-check.sh

test: lint unit sanity build labtest molecule
	@echo "all tests passed"

clean:
	-@[ -x $(MOLECULE) ] && for s in $(SCENARIOS) $(SCENARIOS_LONG); do $(MOLECULE) destroy -s $$s >/dev/null 2>&1 || true; done
	-@[ -x $(PY) ] && $(PY) lab/labctl.py clean

distclean: clean
	-@[ -x $(PY) ] && $(PY) lab/labctl.py clean --images
	rm -rf $(VENV) .cache
