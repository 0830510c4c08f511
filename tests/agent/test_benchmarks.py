"""Parsers of on-device benchmark tools, on recorded outputs of several versions of each."""

from __future__ import annotations

from pathlib import Path

import pytest

from prunefront.agent import BenchmarkOutputError, parse_benchmark_model, parse_ort_perf_test

DATA = Path(__file__).parent / "data"


def _read(name: str) -> str:
    return (DATA / name).read_text()


@pytest.mark.parametrize(
    ("name", "output_format", "runs", "mean_ms", "memory"),
    [
        ("ort_perf_test_1.2.txt", "ort-1.1", 200, 5.91375, 29_163_520),
        ("ort_perf_test_1.3.txt", "ort-1.1", 100, 29.0311, 48_193_536),
        ("ort_perf_test_1.17.txt", "ort-1.8+", 200, 2.18858, 37_666_816),
    ],
)
def test_onnxruntime_perf_test_outputs_of_each_version_give_runs_mean_and_memory(
    name: str, output_format: str, runs: int, mean_ms: float, memory: int
) -> None:
    stats = parse_ort_perf_test(_read(name))
    assert stats.tool == "onnxruntime_perf_test" and stats.output_format == output_format
    assert stats.runs == runs
    assert stats.mean_ms == pytest.approx(mean_ms)
    assert stats.peak_memory_bytes == memory


def test_modern_perf_test_percentiles_are_converted_from_seconds_to_ms() -> None:
    stats = parse_ort_perf_test(_read("ort_perf_test_1.17.txt"))
    assert stats.p50_ms == pytest.approx(2.14467)
    assert stats.p90_ms == pytest.approx(2.31002)
    assert stats.min_ms == pytest.approx(2.03115) and stats.max_ms == pytest.approx(4.27703)
    assert stats.init_ms == pytest.approx(40.2418) and stats.first_ms == 4
    assert stats.min_ms <= stats.p50_ms <= stats.p90_ms <= stats.max_ms


def test_older_perf_test_versions_report_no_median() -> None:
    stats = parse_ort_perf_test(_read("ort_perf_test_1.3.txt"))
    assert stats.p50_ms is None and stats.p90_ms is None
    assert stats.init_ms == pytest.approx(95.7102)


@pytest.mark.parametrize(
    ("name", "output_format", "runs", "mean_ms", "std_ms"),
    [
        ("tflite_benchmark_model_1.15.txt", "tflite-1.x", 842, 1.1816, 0.061),
        ("tflite_benchmark_model_2.4.txt", "tflite-2.x", 3318, 0.297128, 0.022),
        ("tflite_benchmark_model_2.16.txt", "tflite-2.13+", 2467, 0.401553, 0.019),
        ("litert_benchmark_model_2.1.txt", "litert-compiled-model", 2431, 0.41, 0.03),
    ],
)
def test_benchmark_model_outputs_of_each_version_give_the_timed_runs(
    name: str, output_format: str, runs: int, mean_ms: float, std_ms: float
) -> None:
    stats = parse_benchmark_model(_read(name))
    assert stats.tool == "benchmark_model" and stats.output_format == output_format
    assert stats.runs == runs  # the timed phase, not the warm-up
    assert stats.mean_ms == pytest.approx(mean_ms)
    assert stats.std_ms == pytest.approx(std_ms)
    assert stats.min_ms is not None and stats.min_ms <= stats.mean_ms <= (stats.max_ms or 0)
    assert stats.p50_ms is None  # benchmark_model reports no median


def test_benchmark_model_memory_prefers_the_monitored_peak_and_labels_deltas() -> None:
    monitored = parse_benchmark_model(_read("tflite_benchmark_model_2.16.txt"))
    assert monitored.peak_memory_bytes == round(9.83203 * 2**20)
    assert monitored.memory_kind == "peak_footprint"
    peak = parse_benchmark_model(_read("tflite_benchmark_model_2.4.txt"))
    assert peak.peak_memory_bytes == round(2.36328 * 2**20) and peak.memory_kind == "peak_footprint"
    assert parse_benchmark_model(_read("tflite_benchmark_model_1.15.txt")).peak_memory_bytes is None


def test_an_all_same_timing_line_is_read_as_min_max_and_mean() -> None:
    text = (
        "Running benchmark for at least 1 iterations and at least 0 seconds\n"
        "count=3 curr=1500(all same)\n\n"
        "Inference timings in us: Init: 900, First inference: 1700, Warmup (avg): 1600, "
        "Inference (avg): 1500\n"
    )
    stats = parse_benchmark_model(text)
    assert (stats.runs, stats.min_ms, stats.max_ms, stats.std_ms) == (3, 1.5, 1.5, 0.0)


def test_a_failed_benchmark_raises_with_the_tools_message() -> None:
    with pytest.raises(
        BenchmarkOutputError,
        match="failure: ERROR: Didn't find op for builtin opcode 'BROADCAST_TO'",
    ):
        parse_benchmark_model(_read("tflite_benchmark_model_failed.txt"))


def test_unrecognised_output_raises_quoting_it_instead_of_guessing() -> None:
    with pytest.raises(BenchmarkOutputError, match=r"unrecognised output .*Segmentation fault"):
        parse_ort_perf_test("Segmentation fault\n")
    with pytest.raises(BenchmarkOutputError, match="benchmark_model: unrecognised"):
        parse_benchmark_model(_read("ort_perf_test_1.17.txt"))
