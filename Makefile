# SPDX-License-Identifier: MIT
# ktrack: Kconfig/Make-driven experiment harness.  `make help` lists targets.

.DEFAULT_GOAL := help
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DELETE_ON_ERROR:
MAKEFLAGS += --no-print-directory

# Quiet by default, like kbuild; `make V=1` shows every command.
ifeq ($(V),1)
  Q :=
  PIP_QUIET :=
else
  Q := @
  PIP_QUIET := -qq
endif

PYTHON      ?= python3
VENV        := .venv
PY          := $(VENV)/bin/python
KCONFIG     := $(PY) -m kconf
KCONFIG_CONFIG ?= .config
DEFCONFIG   ?= default
DEFCONFIGS  := $(sort $(notdir $(wildcard defconfigs/*)))
KCONFIG_SRC := Kconfig $(wildcard kconfig/*.kconfig) kconfig/float-symbols
GENERATED   := config.py config.json include/generated/autoconf.h
STAMP_RUN   := $(VENV)/.ktrack-installed
STAMP_TEST  := $(VENV)/.ktrack-test-installed
PYTEST_ARGS ?=
# make check's pytest workers (pytest-xdist): most end-to-end tests wait on processes, two overlap well
TEST_JOBS ?= 2
BENCH_ARGS  ?=

export KCONFIG_CONFIG
export KCONFIG_FUNCTIONS := kconf.kconfigfunctions

# User values reach the tools through the environment, never spliced into a
# shell command line, so quotes and ';' in DEFCONFIG=, SET=, SWEEP=, ... arrive
# intact. make itself expands '$' in every variable: write '$$' for a literal
# '$'. Each variable's unexpanded text goes along as KTRACK_RAW_<NAME>, so the
# configuration tool can refuse a '$' that make swallowed (SET='X=cost$5').
USER_VARS := DEFCONFIG TRACKER SET RUN FORCE A B SWEEP JOBS SWEEP_EXECUTOR TRAIN_ARGS
export $(USER_VARS)
$(foreach v,DEFCONFIG TRACKER SET RUN A B,$(eval export KTRACK_RAW_$(v) := $$(value $(v))))

# Printed in kbuild's style: "  GEN     config.py".
quiet_msg = @printf '  %-7s %s\n' '$(1)' '$(2)'

.PHONY: help defconfig list-defconfigs menuconfig olddefconfig savedefconfig \
	genconfig checkconfig venv venv-test train demo trackio-test wandb-test \
	view sweep sweep-summary diffconfig trackio-show wandb-sync \
	check test lint bench clean mrproper \
	$(addprefix defconfig-,$(DEFCONFIGS))

## ---------------------------------------------------------------- help
help:
	@echo 'ktrack: one Kconfig configuration per experiment'
	@echo ''
	@echo 'Set-up:'
	@echo '  demo            - set up .venv, configure the tiny GPT-2, train it with tracking, show the run'
	@echo '  check           - set up .venv with test tools, lint, and run every test (the end-to-end ones too)'
	@echo '  venv            - create .venv and install ktrack into it (idempotent)'
	@echo ''
	@echo 'Configuration:'
	@echo '  defconfig       - apply defconfigs/$$DEFCONFIG (default: default) to .config'
	@echo '                    DEFCONFIG=<name> TRACKER=none|trackio|wandb|tensorboard|both|a,b'
	@echo '                    SET="SYMBOL=value ..." overrides any Kconfig symbol ($$$$ for a literal $$)'
	@echo '                    RUN=<project>/<run> restores that run'"'"'s .config (FORCE=1 if the tree changed)'
	@echo '  defconfig-<name> - same as defconfig DEFCONFIG=<name>'
	@echo '  list-defconfigs - list the defconfigs with their descriptions'
	@echo '  menuconfig      - edit .config in a terminal menu (kconfiglib)'
	@echo '  olddefconfig    - refresh .config, new symbols get their defaults'
	@echo '  savedefconfig   - write a minimal defconfig to ./defconfig'
	@echo '  genconfig       - regenerate config.py, config.json, include/generated/autoconf.h'
	@echo '  checkconfig     - validate .config and print its summary'
	@echo ''
	@echo 'Training and tracking:'
	@echo '  train           - train the configured model (torchrun when DIST_NPROC_PER_NODE > 1)'
	@echo '                    SLURM=1 submits it as a Slurm job (srun, SLURM_* options)'
	@echo '  trackio-test    - log realistic fake metrics to Trackio and read them back'
	@echo '  wandb-test      - log realistic fake metrics to W&B (offline) and read them back'
	@echo '  view            - trackio-view --once for the configured project'
	@echo '  trackio-show    - open Trackio'"'"'s web dashboard for the project on CONFIG_TRACKIO_PORT'
	@echo '  wandb-sync      - upload every offline W&B run of the project'
	@echo ''
	@echo 'Sweeps and comparisons:'
	@echo '  sweep           - run every point of SWEEP=sweeps/<name>.yaml (JOBS=N, SWEEP_EXECUTOR=slurm)'
	@echo '                    (a literal $$ in a value is written $$$$)'
	@echo '  sweep-summary   - table and CSV of the points of SWEEP=..., best first'
	@echo '  diffconfig      - Kconfig symbols that differ between A= and B= (runs, .config files, defconfigs)'
	@echo ''
	@echo 'Development:'
	@echo '  test            - the in-process tests only, under a minute: no subprocess, make, tracker or'
	@echo '                    training (pytest -m "not e2e"; PYTEST_ARGS="-k name" to select)'
	@echo '  lint            - shellcheck the scripts, ruff and mypy the Python code'
	@echo '  bench           - run the benchmarks under benchmarks/ (BENCH_ARGS=--quick)'
	@echo '  clean           - remove generated files and caches'
	@echo '  mrproper        - clean, plus .config, runs/ and .venv'
	@echo ''
	@echo 'Defconfigs (make defconfig-<name>):'
	@$(PYTHON) -c 'import pathlib; [print(f"  {p.name:<30} - " + ((p.read_text().splitlines() or [""])[0].lstrip("# "))) for p in sorted(pathlib.Path("defconfigs").iterdir())]'
	@echo ''
	@echo 'V=1 shows the commands.'

## ---------------------------------------------------------------- venv
$(PY):
	$(call quiet_msg,VENV,$(VENV))
	$(Q)$(PYTHON) -m venv $(VENV)
	$(Q)$(PY) -m pip install $(PIP_QUIET) --upgrade pip

# The stamps depend on pyproject.toml: a second make does not reinstall.
$(STAMP_RUN): pyproject.toml | $(PY)
	$(call quiet_msg,PIP,ktrack[all] (torch==2.13.0, trackio, wandb))
	$(Q)$(PY) -m pip install $(PIP_QUIET) -e '.[all]'
	$(Q)touch $@

$(STAMP_TEST): $(STAMP_RUN)
	$(call quiet_msg,PIP,ktrack[test])
	$(Q)$(PY) -m pip install $(PIP_QUIET) -e '.[all,test]'
	$(Q)touch $@

venv: $(STAMP_RUN)
venv-test: $(STAMP_TEST)

## ---------------------------------------------------------------- configuration
defconfig: $(STAMP_RUN)
	$(Q)$(KCONFIG) $(if $(RUN),restore "$$RUN",defconfig "$$DEFCONFIG")

$(addprefix defconfig-,$(DEFCONFIGS)): defconfig-%: $(STAMP_RUN)
	$(Q)$(KCONFIG) defconfig '$*'

list-defconfigs: $(STAMP_RUN)
	$(Q)$(KCONFIG) list-defconfigs

menuconfig: $(STAMP_RUN)
	$(Q)$(PY) -m menuconfig Kconfig
	$(Q)$(KCONFIG) genconfig

olddefconfig: $(STAMP_RUN)
	$(Q)$(KCONFIG) olddefconfig

savedefconfig: $(STAMP_RUN)
	$(Q)$(KCONFIG) savedefconfig --out defconfig

checkconfig: $(STAMP_RUN)
	$(Q)$(KCONFIG) check

genconfig: $(GENERATED)

$(KCONFIG_CONFIG):
	@echo "make: no $(KCONFIG_CONFIG): run 'make defconfig' (or 'make defconfig DEFCONFIG=<name>') first" >&2
	@exit 1

# Regenerated whenever .config or the Kconfig tree changes (also after menuconfig).
# kconf writes them all or none, atomically: make must never delete them on an
# error (a bad .config leaves the last good ones in place).
.PRECIOUS: $(GENERATED) $(KCONFIG_CONFIG)
$(GENERATED) &: $(KCONFIG_CONFIG) $(KCONFIG_SRC) | $(STAMP_RUN)
	$(Q)$(KCONFIG) genconfig
	$(Q)touch $(GENERATED)

## ---------------------------------------------------------------- training and tracking
# SLURM=1 submits the training as a Slurm job (sbatch + srun) instead of running it here.
train: $(GENERATED)
	$(Q)$(PY) -m training.launch $(if $(filter 1 y yes,$(SLURM)),--slurm) --trainer-args "$$TRAIN_ARGS"

trackio-test: $(GENERATED)
	$(Q)$(PY) -m trackers.selftest trackio

wandb-test: $(GENERATED)
	$(Q)$(PY) -m trackers.selftest wandb

view: $(GENERATED)
	$(Q)$(VENV)/bin/trackio-view --once --project "$$($(PY) -c 'from config import config; print(config.TRACKER_PROJECT)')"

trackio-show: $(GENERATED)
	$(Q)$(PY) -m trackers.dashboards trackio-show

wandb-sync: $(GENERATED)
	$(Q)$(PY) -m trackers.dashboards wandb-sync

## ---------------------------------------------------------------- sweeps
# SWEEP, JOBS, SWEEP_EXECUTOR, SET and TRACKER reach ktrack-sweep through the
# environment (make exports command-line variables), never through the shell.
sweep: $(STAMP_RUN)
	$(Q)$(PY) -m sweeps run

sweep-summary: $(STAMP_RUN)
	$(Q)$(PY) -m sweeps summary

diffconfig: $(STAMP_RUN)
	$(Q)$(KCONFIG) diffconfig "$$A" "$$B"

# The main job end to end: configure the tiny GPT-2 with both trackers (W&B
# offline when not logged in; the trainer prints the wandb sync command once),
# train it on the CPU, show the run.
demo: $(STAMP_RUN)
	$(Q)$(KCONFIG) defconfig default --tracker both
	$(call quiet_msg,TRAIN,tiny GPT-2 on the CPU (about a minute))
	$(Q)$(PY) -m training.launch --trainer-args "$$TRAIN_ARGS"
	$(Q)project=$$($(PY) -c 'import kconf; print(kconf.load().TRACKER_PROJECT)'); \
	$(VENV)/bin/trackio-view --once --project "$$project"; \
	echo; \
	echo "Next: the README's commands run inside $(VENV); activate it in this shell first:"; \
	echo "  source $(VENV)/bin/activate"; \
	echo "  trackio-view --project $$project        # the live view of this project"

## ---------------------------------------------------------------- development
# Two tiers (tests/conftest.py marks them): `make test` runs the tests that stay in
# this process; `make check` lints and runs them all, the end-to-end ones (marked
# e2e: make, the command-line tools, trainers, real trackers, tmux, Slurm) too.
check: $(STAMP_TEST) lint
	$(call quiet_msg,TEST,tests/ (all))
	$(Q)$(PY) -m pytest $(if $(filter 1,$(V)),-v,-q) -n $(TEST_JOBS) --dist loadgroup $(PYTEST_ARGS)

test: $(STAMP_TEST)
	$(call quiet_msg,TEST,tests/ (in-process: not e2e))
	$(Q)$(PY) -m pytest $(if $(filter 1,$(V)),-v,-q) -m 'not e2e' $(PYTEST_ARGS)

lint: $(STAMP_TEST)
	$(call quiet_msg,LINT,scripts/*.sh .ci/run)
	$(Q)$(VENV)/bin/shellcheck scripts/*.sh .ci/run
	$(call quiet_msg,LINT,python (ruff))
	$(Q)$(VENV)/bin/ruff check $(if $(filter 1,$(V)),,--quiet) .
	$(call quiet_msg,LINT,python (mypy))
	$(Q)$(VENV)/bin/mypy $(if $(filter 1,$(V)),,--no-error-summary)

bench: $(STAMP_RUN)
	$(Q)for b in benchmarks/bench_*.py; do \
		printf '  %-7s %s\n' BENCH "$$b"; \
		$(PY) "$$b" $(BENCH_ARGS); \
	done

clean:
	$(call quiet_msg,CLEAN,generated files and caches)
	$(Q)rm -rf $(GENERATED) include .pytest_cache defconfig .config.old
	$(Q)find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

mrproper: clean
	$(call quiet_msg,CLEAN,.config runs/ $(VENV))
	$(Q)rm -rf "$$KCONFIG_CONFIG" runs $(VENV)
