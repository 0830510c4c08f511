"""A labelled energy *estimate* from codecarbon, for machines with no readable sensor.

Used only when the user asks for it (``energy="estimate"``) and nothing can be measured. It runs
codecarbon's ``OfflineEmissionsTracker`` (offline: no network, no file written) over the window;
without RAPL or NVML, codecarbon models CPU power from its TDP table and the process's CPU load,
so every record is ``kind="estimated"``, ``method="codecarbon_tdp_model"``.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass
from typing import Any

from prunefront.sensors import (
    Clock,
    Detail,
    Measurement,
    SystemClock,
    WindowBook,
    WindowProgress,
    check_inferences,
    energy_and_power,
)

__all__ = ["CodecarbonMeter", "codecarbon_version"]

_KWH_TO_MJ = 3.6e9


def codecarbon_version() -> str | None:
    """The installed codecarbon version, or ``None`` when it is not installed."""
    try:
        import codecarbon
    except ImportError:
        return None
    return str(codecarbon.__version__)


@dataclass
class _Window:
    start_s: float
    tracker: Any


class CodecarbonMeter:
    """Window meter of codecarbon's estimated energy (``estimated``, never ``measured``).

    Args:
        country_iso_code: Country for codecarbon's offline carbon intensity (energy is unaffected).
        clock: Time source for ``progress``.
    """

    method = "codecarbon_tdp_model"

    def __init__(self, *, country_iso_code: str = "USA", clock: Clock | None = None) -> None:
        self._country = country_iso_code
        self._clock = clock or SystemClock()
        self._book: WindowBook[_Window] = WindowBook()

    def begin_window(self, key: str) -> None:
        """Start an offline tracker for window ``key``."""
        from codecarbon import OfflineEmissionsTracker
        from codecarbon.emissions_tracker import BaseEmissionsTracker

        # codecarbon logs at INFO before it applies its own log_level.
        logging.getLogger("codecarbon").setLevel(logging.ERROR)
        # codecarbon 3 writes nothing with output_methods=[]; 2.x spells it save_to_file=False.
        quiet: dict[str, Any] = (
            {"output_methods": []}
            if "output_methods" in inspect.signature(BaseEmissionsTracker.__init__).parameters
            else {"save_to_file": False}
        )
        tracker = OfflineEmissionsTracker(
            country_iso_code=self._country,
            log_level="error",
            tracking_mode="process",
            allow_multiple_runs=True,
            **quiet,
        )
        tracker.start()
        self._book.open(key, _Window(start_s=self._clock.now(), tracker=tracker))

    def progress(self, key: str) -> WindowProgress:
        """Elapsed seconds; an estimate has no sensor updates to count."""
        return WindowProgress(
            elapsed_s=self._clock.now() - self._book.peek(key).start_s, counter_updates=None
        )

    def end_window(self, key: str, *, inferences: int) -> list[Measurement]:
        """Stop the tracker and return its estimate per forward pass."""
        check_inferences(inferences)
        window = self._book.close(key)
        window.tracker.stop()
        data = window.tracker.final_emissions_data
        window_s = self._clock.now() - window.start_s
        total_mj = float(data.energy_consumed) * _KWH_TO_MJ
        if total_mj <= 0 or window_s <= 0:
            return [
                Measurement.unavailable(
                    "energy_mj",
                    method=self.method,
                    scope="process",
                    reason="codecarbon estimated no energy",
                )
            ]
        hardware = ", ".join(str(h) for h in getattr(window.tracker, "_hardware", []))
        details: dict[str, Detail] = {
            "total_mj": total_mj,
            "cpu_model": str(data.cpu_model),
            "codecarbon_hardware": hardware,
            "codecarbon_version": codecarbon_version(),
            "inferences": inferences,
        }
        caveat = "an estimate from codecarbon's CPU TDP/load model, not a sensor reading"
        return energy_and_power(
            total_mj,
            window_s=window_s,
            inferences=inferences,
            method=self.method,
            scope="process",
            kind="estimated",
            details=details,
            reason=caveat,
        )

    def idle_power(self, duration_s: float) -> Measurement:
        """No baseline: codecarbon's process mode already attributes power by CPU share."""
        return Measurement.unavailable(
            "power_idle_w",
            method=self.method,
            scope="process",
            reason="codecarbon's process-mode estimate has no idle baseline",
        )
