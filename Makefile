# One-command entry points. Every target creates the local virtualenv if it is missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The torch build to install first. Here a CPU build of 2.13.0 lies on disk; elsewhere,
# override it (e.g. `make setup TORCH_SPEC='torch>=2.2,<3'`) or install torch yourself first.
TORCH_SPEC ?= torch==2.13.0

.PHONY: gnugo setup test test-slow lint format clean demo demo-quick

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@

gnugo:  ## install GNU Go (Go's teacher) where it is missing and possible
	@bash .ci/install-gnugo.sh

setup: $(BIN)/.installed gnugo  ## create .venv and install the project with its test extras

lint: setup  ## ruff lint + format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint  ## the default suite (lint, then pytest without the slow tests)
	$(BIN)/python -m pytest -q

test-slow: setup  ## only the tests marked slow
	$(BIN)/python -m pytest -q -m slow

# The main job: the whole story, expert games -> stage 1 -> stage 2 -> report, on Connect
# Four by default (15 minutes measured on 2 CPU cores; see the README), or on 7x7 Go with
# GNU Go as the teacher: `make demo GAME=go7`, or GAME=go9 on a GPU (see the README's Go
# section).
# Longer runs add flags to either stage, e.g. (see the README's presets)
#   make demo DEMO_RUNS=runs/long STAGE2_FLAGS='--iterations 180 --games-per-iteration 256'
GAME ?= connect4
DEMO_RUNS ?= runs/demo$(if $(filter-out connect4,$(GAME)),-$(GAME))
STAGE1_FLAGS ?=
STAGE2_FLAGS ?=
demo: setup  ## stage 1, stage 2 and the report (GAME=connect4, go7, or go9 on a GPU)
	rm -rf $(DEMO_RUNS)
	$(BIN)/python -m scripts.train_imitation --game $(GAME) --run-dir $(DEMO_RUNS) $(STAGE1_FLAGS)
	$(BIN)/python -m scripts.train_selfplay --init $(DEMO_RUNS)/$(GAME)__imitation__1__*/best.pt \
		--run-dir $(DEMO_RUNS) $(STAGE2_FLAGS)
	$(BIN)/python -m scripts.compare --logdir $(DEMO_RUNS) --game $(GAME) --out $(DEMO_RUNS)/report
	@echo "report: $(DEMO_RUNS)/report/report.md"
	@echo "curves: $(BIN)/tensorboard --logdir $(DEMO_RUNS)"

# The same story on tic-tac-toe in a few minutes.
DEMO_QUICK_RUNS ?= runs/demo-quick
demo-quick: setup  ## stage 1, stage 2 and the report on tic-tac-toe
	rm -rf $(DEMO_QUICK_RUNS)
	$(BIN)/python -m scripts.train_imitation --game tictactoe --run-dir $(DEMO_QUICK_RUNS)
	$(BIN)/python -m scripts.train_selfplay --init $(DEMO_QUICK_RUNS)/tictactoe__imitation__1__*/best.pt \
		--run-dir $(DEMO_QUICK_RUNS)
	$(BIN)/python -m scripts.compare --logdir $(DEMO_QUICK_RUNS) --game tictactoe --quick \
		--out $(DEMO_QUICK_RUNS)/report
	@echo "report: $(DEMO_QUICK_RUNS)/report/report.md"
	@echo "curves: $(BIN)/tensorboard --logdir $(DEMO_QUICK_RUNS)"

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
