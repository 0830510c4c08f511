"""Export a search trial from its saved weights (no retraining), then verify what was written.

The trial's sparse weights (``RUN/artifacts/trial-NNNNN.pfs``) are loaded into the task's model
at the trial's width; the model is written as compressed ONNX (``onnx``: weights stored as the
footprint counts them, rebuilt by ONNX Runtime when the session is created), dense ONNX
(``onnx-dense``), a ``torch.export`` program (``pt``) or a sparse weight file, reloaded from
disk and checked: outputs against the trial's model, size on disk against the footprint model,
and latency re-measured side by side with the trial's model (and, for ``onnx``, with the dense
ONNX file: the rebuild happens at load, so the two must run alike). Everything is written to a
temporary file first and moved into place only once verified.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import optuna
import torch
from optuna.trial import TrialState
from torch import nn

from prunefront.config import RunConfig
from prunefront.errors import PrunefrontError
from prunefront.export._checkpoint import model_from_checkpoint
from prunefront.export._compress import compress_onnx
from prunefront.export._onnx import export_onnx
from prunefront.profilers import (
    LatencySettings,
    perf_counter_timer,
    pinned_threads,
    time_interleaved,
)
from prunefront.spaces import load_sparse, model_footprint, save_sparse
from prunefront.studies import STUDY_CONFIG
from prunefront.tasks import Task, resolve_task

__all__ = ["EXPORT_FORMATS", "ExportVerification", "export_trial", "trial_model"]

EXPORT_FORMATS = ("onnx", "onnx-dense", "pt", "sparse")
SIZE_SLACK = 1.05
"""A compressed ONNX file may exceed the footprint by 5 % ..."""
GRAPH_ALLOWANCE_BYTES = 8192
"""... plus the graph itself (operators, names, shapes and the decoders of each weight)."""


@dataclass(frozen=True, kw_only=True)
class ExportVerification:
    """What was written and how it checked out (sizes in bytes, latencies in ms, measured)."""

    trial: int
    format: str
    path: str
    file_bytes: int
    footprint_bytes: int
    dense_bytes: int
    outputs_match: bool
    max_abs_error: float
    latency_ms: float
    latency_reference_ms: float
    latency_trial_ms: float | None
    latency_method: str
    size_limit_bytes: int | None = None
    dense_onnx_bytes: int | None = None
    latency_dense_onnx_ms: float | None = None
    value_dtype: str = "float32"
    notes: tuple[str, ...] = ()

    @property
    def size_ok(self) -> bool:
        """Whether the file is within ``size_limit_bytes`` (True where no limit applies)."""
        return self.size_limit_bytes is None or self.file_bytes <= self.size_limit_bytes

    @property
    def ok(self) -> bool:
        """Whether the written model reproduces the trial's outputs within its size limit."""
        return self.outputs_match and self.size_ok

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data."""
        return {
            **asdict(self),
            "notes": list(self.notes),
            "size_ok": self.size_ok,
            "ok": self.ok,
        }


def trial_model(
    study: optuna.Study, number: int, *, run_dir: Path | None = None, task: Task | None = None
) -> tuple[nn.Module, RunConfig, optuna.trial.FrozenTrial, Path]:
    """The model of COMPLETE trial ``number``, rebuilt from its saved sparse weights.

    ``task`` builds it (a Task object given to ``prunefront.search.run``); by default the
    study's task reference is resolved.
    """
    trials = study.get_trials(deepcopy=False)
    if not 0 <= number < len(trials):
        raise PrunefrontError(f"--trial {number}: the study has trials 0..{len(trials) - 1}")
    trial = trials[number]
    if trial.state != TrialState.COMPLETE:
        raise PrunefrontError(
            f"--trial {number} is {trial.state.name}, not COMPLETE: only completed trials "
            "have verified weights (see prunefront status)"
        )
    stored = study.user_attrs.get(STUDY_CONFIG)
    if stored is None:
        raise PrunefrontError(f"study {study.study_name!r} was not created by prunefront")
    config = RunConfig.from_dict(stored)
    folder = run_dir or Path(config.search.run_dir or Path("runs") / config.study_name())
    artifact = folder / str(trial.user_attrs.get("artifact", ""))
    if not artifact.is_file():
        raise PrunefrontError(
            f"trial {number}'s weights {artifact} are missing; pass the run folder with --run"
        )
    rebuilt = model_from_checkpoint(
        artifact, task=task or _task(config), width=float(trial.user_attrs["width"])
    )
    return rebuilt.model, config, trial, artifact


def _task(config: RunConfig) -> Task:
    return resolve_task(config.task.ref, config.task.options)


def _check_out(out: Path) -> None:
    if out.is_dir():
        raise PrunefrontError(f"--out {out} is a directory; give a file path")
    parent = out.expanduser().resolve().parent
    if not parent.is_dir():
        raise PrunefrontError(f"--out: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise PrunefrontError(f"--out: directory {parent} is not writable")
    # Permission bits say nothing to root, nor about /proc or a read-only mount: create (and
    # remove) a file there before any work, so the export cannot fail only at the very end.
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{out.name}.probe-", dir=parent)
    except OSError as error:
        raise PrunefrontError(
            f"--out: cannot create files in {parent}: {error.strerror or error}"
        ) from None
    os.close(fd)
    os.unlink(probe)


def _outputs(model: Callable[..., Any], inputs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    with torch.no_grad():
        result = model(*inputs)
    items = result if isinstance(result, list | tuple) else [result]
    return [t for t in items if isinstance(t, torch.Tensor)]


def _compare(reference: list[torch.Tensor], other: list[torch.Tensor]) -> tuple[bool, float]:
    if len(reference) != len(other):
        return False, float("inf")
    worst, ok = 0.0, True
    for a, b in zip(reference, other, strict=True):
        if a.shape != b.shape:
            return False, float("inf")
        diff = float((a.float() - b.float()).abs().max()) if a.numel() else 0.0
        scale = float(a.float().abs().max()) if a.numel() else 1.0
        worst = max(worst, diff)
        ok = ok and diff <= 1e-5 * max(scale, 1.0) + 1e-4 * scale
    return ok, worst


def _latencies(runs: dict[str, Callable[[], object]], threads: int) -> dict[str, float]:
    """Median ms of each callable, timed interleaved (so load on the machine hits all alike)."""
    with pinned_threads(threads):
        stats = time_interleaved(
            runs,
            settings=LatencySettings(min_time_s=0.5, max_time_s=5.0),
            timer=perf_counter_timer(),
        )
    return {name: stats[name].p50_ms for name in runs}


@dataclass(frozen=True, kw_only=True)
class _Written:
    """A written file reloaded: its outputs, how to run it, and what to say about it."""

    outputs: list[torch.Tensor]
    run: Callable[[], object]
    method: str
    notes: tuple[str, ...]
    dense_run: Callable[[], object] | None = None
    dense_bytes: int | None = None


def _ort_session(path: Path, inputs: Sequence[torch.Tensor], threads: int) -> tuple[Any, Any]:
    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feeds = {
        arg.name: np.ascontiguousarray(t.detach().cpu().numpy())
        for arg, t in zip(session.get_inputs(), inputs, strict=True)
    }
    return session, feeds


def _run_onnx(path: Path, inputs: Sequence[torch.Tensor], threads: int) -> _Written:
    import numpy as np
    import onnxruntime as ort

    session, feeds = _ort_session(path, inputs, threads)
    outputs = [torch.from_numpy(np.asarray(o)) for o in session.run(None, feeds)]
    return _Written(
        outputs=outputs,
        run=lambda: session.run(None, feeds),
        method=f"onnxruntime {ort.__version__}",
        notes=(),
    )


def _write_dense_onnx(
    model: nn.Module, inputs: Sequence[torch.Tensor], tmp: Path, threads: int
) -> _Written:
    written = export_onnx(model, inputs, tmp)
    reloaded = _run_onnx(tmp, inputs, threads)
    notes = (*written.notes, "ONNX stores weights densely: compare the file with dense_bytes")
    return _Written(outputs=reloaded.outputs, run=reloaded.run, method=reloaded.method, notes=notes)


def _write_compressed_onnx(
    model: nn.Module, inputs: Sequence[torch.Tensor], tmp: Path, threads: int, dtype: str
) -> _Written:
    import onnx

    dense_path = tmp.with_name(f"{tmp.name}.dense")
    try:
        written = export_onnx(model, inputs, dense_path)
        compressed = compress_onnx(onnx.load(str(dense_path)), dtype=dtype)
        onnx.save(compressed.model, str(tmp))
        dense = _run_onnx(dense_path, inputs, threads)
        dense_bytes = dense_path.stat().st_size
    finally:
        dense_path.unlink(missing_ok=True)
    reloaded = _run_onnx(tmp, inputs, threads)
    formats = sorted({t.format for t in compressed.tensors})
    notes = [
        *written.notes,
        f"weights stored as {', '.join(formats)} ({compressed.dtype}); ONNX Runtime rebuilds "
        "them once when the session is created (constant folding)",
    ]
    if compressed.dtype == "int8":
        notes.append(
            "int8 weights are dequantised by DequantizeLinear (a weight-only QDQ model); "
            "ONNX Runtime keeps QDQ nodes unfolded, so it dequantises on every run"
        )
    return _Written(
        outputs=reloaded.outputs,
        run=reloaded.run,
        method=reloaded.method,
        notes=tuple(notes),
        dense_run=dense.run,
        dense_bytes=dense_bytes,
    )


def _write_pt(model: nn.Module, inputs: Sequence[torch.Tensor], tmp: Path) -> _Written:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # LSTM flat-weights notice
        program = torch.export.export(model, tuple(inputs))
    with tmp.open("wb") as sink:
        torch.export.save(program, sink)
    with tmp.open("rb") as source:
        reloaded = torch.export.load(source).module()
    outputs = _outputs(reloaded, inputs)
    note = "a torch.export program: load with torch.export.load(path).module()"

    def run() -> object:
        with torch.no_grad():
            return reloaded(*inputs)

    return _Written(
        outputs=outputs,
        run=run,
        method="torch.export",
        notes=(note, "weights are stored densely"),
    )


def export_trial(
    study: optuna.Study,
    number: int,
    *,
    fmt: str,
    out: Path,
    run_dir: Path | None = None,
    threads: int = 1,
    task: Task | None = None,
) -> ExportVerification:
    """Write trial ``number`` in ``fmt`` to ``out`` and verify it (see the module docstring).

    ``task`` is the Task object a search was given (``prunefront.search.run(..., task=...)``);
    by default the study's task reference is resolved.
    """
    if fmt not in EXPORT_FORMATS:
        raise PrunefrontError(f"--format {fmt!r}: choose one of {', '.join(EXPORT_FORMATS)}")
    _check_out(out)
    model, config, trial, _ = trial_model(study, number, run_dir=run_dir, task=task)
    task = task if task is not None else _task(config)
    inputs = task.example_inputs(config.target.batch_size)
    reference = _outputs(model, inputs)
    footprint = model_footprint(
        model,
        fmt=config.budget.format,
        dtype=config.budget.dtype,
        pattern=str(trial.user_attrs["pattern"]),
    )
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    dtype = config.budget.dtype
    try:
        if fmt == "onnx":
            written = _write_compressed_onnx(model, inputs, tmp, threads, dtype)
        elif fmt == "onnx-dense":
            written = _write_dense_onnx(model, inputs, tmp, threads)
        elif fmt == "pt":
            written = _write_pt(model, inputs, tmp)
        else:
            written = _write_sparse(study, trial, run_dir, config, model, inputs, tmp, task)
        matches, error = _compare(reference, written.outputs)

        def reference_run() -> object:
            with torch.no_grad():
                return model(*inputs)

        runs = {"exported": written.run, "reference": reference_run}
        if written.dense_run is not None:
            runs["dense_onnx"] = written.dense_run
        latency = _latencies(runs, threads)
        file_bytes = tmp.stat().st_size
        limit = (
            math.floor(SIZE_SLACK * footprint.footprint_bytes) + GRAPH_ALLOWANCE_BYTES
            if fmt == "onnx"
            else None
        )
        if matches and (limit is None or file_bytes <= limit):
            os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    trial_latency = trial.user_attrs.get("latency_ms")
    verified = matches and (limit is None or file_bytes <= limit)
    return ExportVerification(
        trial=number,
        format=fmt,
        path=str(out) if verified else "",
        file_bytes=file_bytes,
        footprint_bytes=footprint.footprint_bytes,
        dense_bytes=int(footprint.bytes_by_format["dense"]),
        outputs_match=matches,
        max_abs_error=error,
        latency_ms=latency["exported"],
        latency_reference_ms=latency["reference"],
        latency_trial_ms=None if trial_latency is None else float(trial_latency),
        latency_method=f"perf_counter ({written.method}), interleaved with the trial's model",
        size_limit_bytes=limit,
        dense_onnx_bytes=written.dense_bytes,
        latency_dense_onnx_ms=latency.get("dense_onnx"),
        value_dtype=dtype if fmt in ("onnx", "sparse") else "float32",
        notes=written.notes,
    )


def _write_sparse(
    study: optuna.Study,
    trial: optuna.trial.FrozenTrial,
    run_dir: Path | None,
    config: RunConfig,
    model: nn.Module,
    inputs: Sequence[torch.Tensor],
    tmp: Path,
    task: Task,
) -> _Written:
    save_sparse(
        tmp,
        model,
        fmt=config.budget.format,
        dtype=config.budget.dtype,
        metadata=load_sparse_metadata(study, trial, run_dir, config),
        pattern=str(trial.user_attrs["pattern"]),
        exclude=config.space.schedule.exclude,
    )
    reloaded = model_from_checkpoint(tmp, task=task, width=float(trial.user_attrs["width"])).model

    def run() -> object:
        with torch.no_grad():
            return reloaded(*inputs)

    return _Written(
        outputs=_outputs(reloaded, inputs),
        run=run,
        method="torch (masked-dense)",
        notes=("sparse weight file: size should match the footprint",),
    )


def load_sparse_metadata(
    study: optuna.Study, trial: optuna.trial.FrozenTrial, run_dir: Path | None, config: RunConfig
) -> dict[str, Any]:
    """The saved trial's metadata, plus where it was exported from."""
    folder = run_dir or Path(config.search.run_dir or Path("runs") / config.study_name())
    metadata = dict(load_sparse(folder / str(trial.user_attrs["artifact"])).metadata)
    metadata["exported_from"] = {"study": study.study_name, "trial": trial.number}
    return metadata
