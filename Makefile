# Two-command quick start: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# CPU build of PyTorch for CI and this machine; pyproject accepts any torch>=2.4 for users.
TORCH_PIN ?= torch==2.13.0

.PHONY: demo test lint install clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_PIN)"
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

test: lint
	$(VENV)/bin/pytest -q

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
