"""The Measurement record: units from names, honest kinds, lossless dicts."""

from __future__ import annotations

import json
import math

import pytest

from prunefront.errors import PrunefrontError
from prunefront.profilers import Measurement, unit_of


@pytest.mark.parametrize(
    ("name", "unit"),
    [
        ("latency_ms", "ms"),
        ("energy_mj", "mJ"),
        ("energy_net_mj", "mJ"),
        ("power_w", "W"),
        ("power_idle_w", "W"),
        ("peak_memory_bytes", "bytes"),
        ("window_s", "s"),
        ("power_mw", "mW"),
    ],
)
def test_unit_comes_from_the_name_suffix(name: str, unit: str) -> None:
    assert unit_of(name) == unit
    record = Measurement(name=name, value=1.0, kind="measured", method="perf_counter", scope="x")
    assert record.unit == unit
    assert record.to_dict()["unit"] == unit


def test_a_name_without_a_unit_is_rejected() -> None:
    with pytest.raises(PrunefrontError, match="unit suffix"):
        Measurement(name="latency", value=1.0, kind="measured", method="perf_counter", scope="x")


def test_unavailable_has_no_value_and_needs_a_reason() -> None:
    record = Measurement.unavailable(
        "energy_mj", method="rapl", scope="cpu_package", reason="no RAPL"
    )
    assert record.value is None and not record.available
    with pytest.raises(PrunefrontError, match="must be None"):
        Measurement(
            name="energy_mj",
            value=0.0,
            kind="unavailable",
            method="rapl",
            scope="cpu_package",
            reason="no RAPL",
        )
    with pytest.raises(PrunefrontError, match="needs a reason"):
        Measurement(name="energy_mj", value=None, kind="unavailable", method="rapl", scope="x")


@pytest.mark.parametrize("kind", ["measured", "estimated", "predicted"])
def test_an_available_kind_needs_a_finite_number(kind: str) -> None:
    for bad in (None, math.nan, math.inf):
        with pytest.raises(PrunefrontError, match="finite number"):
            Measurement(name="energy_mj", value=bad, kind=kind, method="rapl", scope="x")  # type: ignore[arg-type]


def test_unknown_kind_is_rejected_with_the_valid_ones() -> None:
    with pytest.raises(PrunefrontError, match="measured"):
        Measurement(name="energy_mj", value=1.0, kind="guessed", method="m", scope="x")  # type: ignore[arg-type]


def test_round_trip_through_json_keeps_every_field() -> None:
    record = Measurement(
        name="energy_mj",
        value=12.5,
        kind="measured",
        method="nvml_energy_counter",
        scope="gpu_device",
        window_s=2.5,
        repeats=400,
        spread=0.3,
        details={"net_mj": 9.0, "counter_updates": 60},
        notes=("window capped",),
    )
    again = Measurement.from_dict(json.loads(json.dumps(record.to_dict())))
    assert again == record


def test_from_dict_names_unknown_fields_and_wrong_units() -> None:
    data = Measurement(
        name="latency_ms", value=1.0, kind="measured", method="m", scope="x"
    ).to_dict()
    with pytest.raises(PrunefrontError, match="bogus"):
        Measurement.from_dict({**data, "bogus": 1})
    with pytest.raises(PrunefrontError, match="disagrees"):
        Measurement.from_dict({**data, "unit": "s"})


def test_details_cannot_be_changed_through_the_callers_dict() -> None:
    details = {"p90_ms": 2.0}
    record = Measurement(
        name="latency_ms", value=1.0, kind="measured", method="m", scope="x", details=details
    )
    details["p90_ms"] = 99.0
    assert record.details["p90_ms"] == 2.0
