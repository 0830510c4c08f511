"""The search's own cost: time, energy and carbon of each worker, stored with the study.

codecarbon (offline mode: no network, no file) accounts the energy of the whole worker process;
it reads RAPL or NVML where it can and otherwise models CPU power from its TDP table. Its numbers
are stored labelled ``estimated`` with method ``codecarbon`` and the hardware it used, never as
a prunefront measurement.
"""

from __future__ import annotations

import inspect
import logging
import time
from types import TracebackType
from typing import Any

import optuna

from prunefront.studies import STUDY_SEARCH_COST

__all__ = ["SearchCostTracker"]


class SearchCostTracker:
    """Context manager: track this worker's cost and store it as a study attribute."""

    def __init__(self, study: optuna.Study, *, worker: str, country_iso_code: str = "USA") -> None:
        self._study = study
        self._worker = worker
        self._country = country_iso_code
        self._tracker: Any = None
        self._started = 0.0

    def __enter__(self) -> SearchCostTracker:
        self._started = time.time()
        try:
            from codecarbon import OfflineEmissionsTracker
            from codecarbon.emissions_tracker import BaseEmissionsTracker

            logging.getLogger("codecarbon").setLevel(logging.ERROR)
            quiet: dict[str, Any] = (
                {"output_methods": []}
                if "output_methods" in inspect.signature(BaseEmissionsTracker.__init__).parameters
                else {"save_to_file": False}
            )
            self._tracker = OfflineEmissionsTracker(
                country_iso_code=self._country,
                log_level="error",
                tracking_mode="process",
                allow_multiple_runs=True,
                **quiet,
            )
            self._tracker.start()
        except Exception:  # codecarbon is optional at run time: the cost is then time only
            self._tracker = None
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        record: dict[str, Any] = {
            "wall_s": time.time() - self._started,
            "kind": "unavailable",
            "method": "codecarbon",
        }
        if self._tracker is not None:
            try:
                self._tracker.stop()
                data = self._tracker.final_emissions_data
                record.update(
                    energy_kwh=float(data.energy_consumed),
                    emissions_kg=float(data.emissions),
                    kind="estimated",
                    cpu_model=str(data.cpu_model),
                    country=self._country,
                )
            except Exception as error:  # never lose a search over its cost accounting
                record["reason"] = f"codecarbon failed: {type(error).__name__}"
        else:
            record["reason"] = "codecarbon could not start"
        key = f"{STUDY_SEARCH_COST}:{self._worker}:{int(self._started)}"
        try:
            self._study.set_user_attr(key, record)
        except Exception:
            logging.getLogger(__name__).warning("could not store the search cost")
