"""The default sampler finds every package it uses: no search prints a warning about one."""

from __future__ import annotations

import subprocess
import sys

# The GP sampler's acquisition optimisation starts after its 10 random start-up trials; Optuna
# imports (or warns about) greenlet only then.
GP_STUDY = """
import optuna
optuna.logging.set_verbosity(optuna.logging.WARNING)
study = optuna.create_study(sampler=optuna.samplers.GPSampler(seed=0))
study.optimize(lambda t: (t.suggest_float("x", 0, 1) - 0.3) ** 2, n_trials=12)
print("best", round(study.best_value, 3))
"""


def test_the_gp_sampler_runs_without_a_missing_package_warning() -> None:
    done = subprocess.run(
        [sys.executable, "-c", GP_STUDY], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.startswith("best")
    assert "unavailable" not in done.stderr and "greenlet" not in done.stderr, done.stderr
