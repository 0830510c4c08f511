"""The warm-start cache: trials of one width share the dense warm-up, with identical results."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
import torch
from optuna.trial import TrialState

from prunefront.candidate import Candidate, PruningSettings, WarmKey, train_candidate
from prunefront.config import load_config
from prunefront.search import plan_search, run_search
from prunefront.search._cache import WarmStartCache
from prunefront.search._worker import build_context
from prunefront.spaces import load_sparse
from prunefront.tasks import TrainSnapshot
from prunefront.testing import TinyTask

KEY = WarmKey(width=0.5, seed=0, snapshot_step=4, total_steps=16, device="cpu")


def _snapshot(step: int) -> TrainSnapshot:
    return TrainSnapshot(
        step=step,
        model_state={"w": torch.full((2,), float(step))},
        optimizer_state={"state": {}, "param_groups": []},
        scheduler_state=None,
        cpu_rng_state=torch.get_rng_state(),
    )


def _search(path: Path, workers: int | None = None) -> optuna.Study:
    return run_search(plan_search(load_config(path), workers=workers), say=lambda line: None)


def _weights(run_dir: Path, trial: optuna.trial.FrozenTrial) -> dict[str, torch.Tensor]:
    return load_sparse(run_dir / trial.user_attrs["artifact"]).state_dict


# --- the cache ---------------------------------------------------------------------------------


def test_a_saved_entry_is_a_hit_for_its_key_only(tmp_path: Path) -> None:
    cache = WarmStartCache(tmp_path, "task-a")
    with cache.open(KEY) as slot:
        assert slot.snapshot is None
        slot.save(_snapshot(4))
    with cache.open(KEY) as slot:
        assert slot.snapshot is not None and slot.snapshot.step == 4
        assert torch.equal(slot.snapshot.model_state["w"], torch.full((2,), 4.0))
    others = [
        WarmKey(width=1.0, seed=0, snapshot_step=4, total_steps=16, device="cpu"),
        WarmKey(width=0.5, seed=1, snapshot_step=4, total_steps=16, device="cpu"),
        WarmKey(width=0.5, seed=0, snapshot_step=5, total_steps=16, device="cpu"),
        WarmKey(width=0.5, seed=0, snapshot_step=4, total_steps=17, device="cpu"),
    ]
    for key in others:
        with cache.open(key) as slot:
            assert slot.snapshot is None, key
    with WarmStartCache(tmp_path, "task-b").open(KEY) as slot:
        assert slot.snapshot is None
    assert [p.name.startswith("warm-") for p in (tmp_path / "cache").glob("*.pt")] == [True]


def test_an_unreadable_entry_is_a_miss_and_is_rewritten(tmp_path: Path) -> None:
    cache = WarmStartCache(tmp_path, "task")
    cache.path(KEY).parent.mkdir(parents=True)
    cache.path(KEY).write_bytes(b"truncated by a crash")
    with cache.open(KEY) as slot:
        assert slot.snapshot is None
        slot.save(_snapshot(4))
    with cache.open(KEY) as slot:
        assert slot.snapshot is not None and slot.snapshot.step == 4


def test_a_second_worker_waits_for_the_warm_up_being_computed_then_reuses_it(
    tmp_path: Path,
) -> None:
    cache = WarmStartCache(tmp_path, "task")
    second_got: list[TrainSnapshot | None] = []
    second_done = threading.Event()

    def second_worker() -> None:
        with WarmStartCache(tmp_path, "task").open(KEY) as slot:
            second_got.append(slot.snapshot)
        second_done.set()

    with cache.open(KEY) as slot:
        assert slot.snapshot is None  # a miss: this worker computes the warm-up
        thread = threading.Thread(target=second_worker)
        thread.start()
        assert not second_done.wait(0.3), "the second worker did not wait for the first"
        slot.save(_snapshot(4))
        assert second_done.wait(10), "saving did not release the waiting worker"
    thread.join()
    assert second_got[0] is not None and second_got[0].step == 4


def test_a_failed_warm_up_releases_the_entry_for_the_next_worker(tmp_path: Path) -> None:
    cache = WarmStartCache(tmp_path, "task")
    with pytest.raises(FloatingPointError), cache.open(KEY) as slot:
        assert slot.snapshot is None
        raise FloatingPointError("training loss became nan at step 2")
    with cache.open(KEY) as slot:  # would block forever if the lock were still held
        assert slot.snapshot is None


# --- train_candidate ---------------------------------------------------------------------------


def test_candidates_of_one_width_share_the_warm_up_bit_identically(tmp_path: Path) -> None:
    task = TinyTask(epochs=3)  # 24 steps: pruning begins at 8, the snapshot is step 7
    settings = PruningSettings()
    cache = WarmStartCache(tmp_path, "tiny")
    dense = Candidate(width=0.5, sparsity=0.0)
    sparse = Candidate(width=0.5, sparsity=0.8)
    block = Candidate(width=0.5, sparsity=0.75, pattern="2:4")
    _, first = train_candidate(task, dense, seed=1, settings=settings, warm_start=cache)
    assert first.warm_start == "miss"
    for candidate in (sparse, block, dense):
        warm_model, warm = train_candidate(
            task, candidate, seed=1, settings=settings, warm_start=cache
        )
        cold_model, cold = train_candidate(task, candidate, seed=1, settings=settings)
        assert (warm.warm_start, cold.warm_start) == ("hit", "off")
        assert warm.metric_value == cold.metric_value
        assert warm.sparsity_actual == cold.sparsity_actual
        warm_state, cold_state = warm_model.state_dict(), cold_model.state_dict()
        assert all(torch.equal(warm_state[k], cold_state[k]) for k in cold_state)
    _, other_seed = train_candidate(task, sparse, seed=2, settings=settings, warm_start=cache)
    assert other_seed.warm_start == "miss"


def test_warm_start_is_off_for_tasks_without_support_or_pruning_from_step_zero(
    tmp_path: Path,
) -> None:
    class OldStyle(TinyTask):
        def train(self, model, *, on_step, device, seed):  # type: ignore[no-untyped-def]
            super().train(model, on_step=on_step, device=device, seed=seed)

    cache = WarmStartCache(tmp_path, "tiny")
    candidate = Candidate(width=0.5, sparsity=0.5)
    _, old = train_candidate(OldStyle(epochs=1), candidate, warm_start=cache)
    _, at_zero = train_candidate(
        TinyTask(epochs=1), candidate, settings=PruningSettings(begin_frac=0.0), warm_start=cache
    )
    assert (old.warm_start, at_zero.warm_start) == ("off", "off")
    assert not (tmp_path / "cache").exists()


# --- a real search -----------------------------------------------------------------------------


def test_a_search_resumes_later_trials_of_a_width_from_its_warm_up(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    path = write_config(trials=4)
    study = _search(path)
    trials = study.get_trials(deepcopy=False)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4
    widths = [t.user_attrs["width"] for t in trials]
    outcomes = [t.user_attrs["warm_start"] for t in trials]
    assert outcomes == ["hit" if w in widths[:i] else "miss" for i, w in enumerate(widths)]
    assert "hit" in outcomes, "no width came up twice; the test needs a repeated width"
    assert len(list((tmp_path / "run" / "cache").glob("warm-*.pt"))) == len(set(widths))
    hit = trials[outcomes.index("hit")]
    schedule = load_config(path).space.schedule
    settings = PruningSettings(begin_frac=schedule.begin_frac, end_frac=schedule.end_frac)
    cold_model, cold = train_candidate(
        TinyTask(epochs=2),
        Candidate(
            width=hit.user_attrs["width"],
            sparsity=hit.user_attrs["sparsity_target"],
            pattern=hit.user_attrs["pattern"],
        ),
        seed=hit.user_attrs["seed"],
        settings=settings,
    )
    assert hit.user_attrs["metric_value"] == cold.metric_value
    weights, cold_state = _weights(tmp_path / "run", hit), cold_model.state_dict()
    assert all(torch.equal(weights[k], cold_state[k]) for k in cold_state)


def test_warm_start_false_gives_trials_no_cache(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    config = load_config(write_config(extra="warm_start = false"))
    assert not config.search.warm_start
    ctx = build_context(config, tmp_path / "run", workers=1, objectives=("metric", "latency_ms"))
    assert ctx.warm_start is None
    on = build_context(
        load_config(write_config("on.toml")), tmp_path / "run", workers=1, objectives=("metric",)
    )
    assert isinstance(on.warm_start, WarmStartCache)


@pytest.mark.slow
def test_a_warm_search_matches_a_cold_search_trial_by_trial(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    warm_path = write_config("warm.toml", trials=6)
    cold_path = tmp_path / "cold.toml"
    cold_path.write_text(
        warm_path.read_text()
        .replace(str(tmp_path / "run"), str(tmp_path / "cold"))
        .replace("[search]", "[search]\nwarm_start = false")
    )
    warm, cold = _search(warm_path), _search(cold_path)
    warm_trials, cold_trials = warm.get_trials(deepcopy=False), cold.get_trials(deepcopy=False)
    assert [t.state for t in warm_trials] == [TrialState.COMPLETE] * 6
    assert "hit" in {t.user_attrs["warm_start"] for t in warm_trials}
    for w, c in zip(warm_trials, cold_trials, strict=True):
        assert w.params == c.params
        assert c.user_attrs["warm_start"] == "off"
        assert w.user_attrs["metric_value"] == c.user_attrs["metric_value"]
        warm_weights, cold_weights = _weights(tmp_path / "run", w), _weights(tmp_path / "cold", c)
        assert all(torch.equal(warm_weights[k], cold_weights[k]) for k in cold_weights)
    assert not (tmp_path / "cold" / "cache").exists()


@pytest.mark.slow
def test_two_local_workers_compute_each_width_warm_up_once(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    started = time.perf_counter()
    study = _search(write_config(trials=8, options="{ epochs = 6 }"), workers=2)
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    assert len(trials) == 8, f"{time.perf_counter() - started:.0f} s"
    widths = {t.user_attrs["width"] for t in trials}
    outcomes = [t.user_attrs["warm_start"] for t in trials]
    assert outcomes.count("miss") == len(widths)
    assert outcomes.count("hit") == len(trials) - len(widths)
