# Two-command quick start: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# CPU build of PyTorch for CI and this machine; pyproject accepts any torch>=2.4 for users.
TORCH_PIN ?= torch==2.13.0
# The torchvision of that torch, for the torchvision example's tests; --no-deps keeps pip from
# trading the CPU torch for the CUDA one its wheel names (tests/tasks/test_example_tasks.py).
TORCHVISION_PIN ?= torchvision==0.28.0

# The arm64 Debian root the edge-agent tests serve from (scripts/arm64-agent.sh; root, network once).
ARM64_DIR ?= $(HOME)/.cache/prunefront/arm64

.PHONY: demo test lint install clean arm64-root test-arm64

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_PIN)"
	$(PY) -m pip install -q --no-deps "$(TORCHVISION_PIN)"
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

# A short real search on a built-in offline task, then its report (rerunning resumes it).
demo: $(VENV)/.installed
	$(VENV)/bin/prunefront search examples/demo.toml
	$(VENV)/bin/prunefront report --run runs/demo --study demo --out runs/demo/report
	@echo "report: $(CURDIR)/runs/demo/report/report.html"

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check prunefront tests bench
	$(VENV)/bin/ruff format --check prunefront tests bench
	$(VENV)/bin/mypy prunefront
	$(VENV)/bin/lint-imports

test: lint
	$(VENV)/bin/pytest -q

# The agent in an emulated arm64 root, as on a Jetson or a Raspberry Pi (cached after the first run).
arm64-root:
	scripts/arm64-agent.sh prepare $(ARM64_DIR)

# Run after arm64-root; without a prepared root (or root, or emulation) the tests skip, saying why.
test-arm64: $(VENV)/.installed
	PRUNEFRONT_ARM64_DIR=$(ARM64_DIR) $(VENV)/bin/pytest -q -m arm64 -s tests/arm64

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
