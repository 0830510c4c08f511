"""``prunefront doctor``: what this machine can measure (latency, energy, memory) and how."""

from __future__ import annotations

from prunefront._output import emit_json, print_table
from prunefront.commands._options import JsonOpt

__all__ = ["doctor"]


def _how(text: str, detail: str) -> tuple[str, str]:
    """Split ``"unavailable: reason"`` into (``unavailable``, reason) for the table."""
    head, sep, reason = text.partition(": ")
    return (head, reason) if sep and head == "unavailable" else (text, detail)


def doctor(
    as_json: JsonOpt = False,
) -> None:
    """Say what this machine can measure (latency, energy, memory) and how."""
    from prunefront.profilers import doctor_report

    report = doctor_report()
    if as_json:
        emit_json(report)
        return
    cuda, nvml, rapl = report["cuda"], report["nvml"], report["rapl"]
    gpus = ", ".join(
        f"{d['name']} (sm {d['compute_capability']}, 2:4 kernels: "
        + ", ".join(f"{k} {v.partition(':')[0]}" for k, v in d["semi_structured_2_4"].items())
        + ")"
        for d in cuda["devices"]
    )
    rows = [
        ("torch", report["torch_version"], ""),
        ("CPU", report["cpu"]["model"], f"{report['cpu']['logical_cpus']} logical CPUs"),
        ("CUDA", gpus or "none", cuda["reason"] or ""),
        ("CPU latency", report["latency"]["cpu"], ""),
        ("GPU latency", report["latency"]["cuda"] or "-", ""),
        ("CPU energy", *_how(report["energy"]["cpu"], ", ".join(rapl["zones"]))),
        ("GPU energy", *_how(report["energy"]["cuda"], report["energy"]["cuda_device"] or "")),
        ("NVML", "available" if nvml["available"] else "unavailable", nvml["reason"] or ""),
        (
            "codecarbon",
            report["codecarbon"]["version"] or "not installed",
            report["codecarbon"]["mode"],
        ),
        (
            "CPU peak memory",
            report["memory"]["cpu"],
            "weights + the pass's peak allocations; the process peak is kept apart",
        ),
        ("GPU peak memory", report["memory"]["cuda"] or "-", ""),
    ]
    print_table("what this machine can measure", ["", "how", "detail"], rows)
