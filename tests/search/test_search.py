"""Real searches on the tiny task: budget, feasibility, seeding, failures, resume, refusal."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from prunefront.config import load_config
from prunefront.errors import PrunefrontError
from prunefront.search import plan_search, run_search, study_status
from prunefront.spaces import load_sparse
from prunefront.spaces._search_space import SearchSpace
from prunefront.studies import open_study

FAILING_TASK = '''
from prunefront.testing import TinyTask


class Failing(TinyTask):
    """Diverges at width 0.5, raises at width 1.0."""

    def train(self, model, *, on_step, device, seed):
        width = model[0].out_features
        if width == 32:
            raise FloatingPointError("training loss became nan at step 3")
        if width == 64:
            raise RuntimeError("boom")
        return super().train(model, on_step=on_step, device=device, seed=seed)


TASK = Failing(epochs=2)
'''


def run(path: Path, workers: int | None = None) -> optuna.Study:
    return run_search(plan_search(load_config(path), workers=workers), say=lambda line: None)


def completed(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def test_search_runs_exactly_the_budget_within_the_footprint_budget(
    write_config: Callable[..., Path],
) -> None:
    study = run(write_config(trials=5))
    trials = study.get_trials(deepcopy=False)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 5
    for trial in trials:
        attrs = trial.user_attrs
        assert attrs["footprint_predicted_bytes"] <= 6000
        assert attrs["footprint_bytes"] <= 6000
        assert all(v <= 0 for v in trial.constraints.values())
        assert attrs["latency_kind"] == "measured" and attrs["latency_method"] == "perf_counter"
        assert attrs["energy_kind"] == "unavailable" and attrs["energy_reason"]
        assert len(trial.values) == 2
        assert trial.values[0] == attrs["metric_value"]
        assert {m["name"] for m in attrs["measurements"]} >= {"latency_ms", "energy_mj"}
        assert set(attrs["versions"]) >= {"torch", "optuna", "prunefront"}


def test_seeded_iso_footprint_pairs_run_first_and_match_in_bytes(
    write_config: Callable[..., Path],
) -> None:
    study = run(write_config(trials=4))
    seeded = [t for t in study.trials if "seeded" in t.user_attrs]
    assert [t.user_attrs["seeded"] for t in seeded] == ["small-dense", "large-sparse"] * (
        len(seeded) // 2
    )
    assert [t.number for t in seeded] == list(range(len(seeded)))
    for small, large in zip(seeded[::2], seeded[1::2], strict=True):
        level = small.user_attrs["iso_level_bytes"]
        assert small.user_attrs["sparsity_target"] == 0.0
        assert large.user_attrs["width"] > small.user_attrs["width"]
        assert large.user_attrs["footprint_predicted_bytes"] <= level
        assert small.user_attrs["footprint_predicted_bytes"] == level
        assert large.user_attrs["footprint_bytes"] <= level  # the real bytes, after training
        assert small.user_attrs["footprint_bytes"] == level


def test_relidx_candidates_hold_the_budget_and_their_levels_in_real_bytes(
    write_config: Callable[..., Path],
) -> None:
    """Relative indexing's real size depends on where the zeros fall; the search holds anyway."""
    study = run(write_config(trials=6, fmt="relidx4"))
    done = completed(study)
    assert len(done) == 6, [t.user_attrs.get("fail_reason") for t in study.trials]
    for trial in done:
        attrs = trial.user_attrs
        assert attrs["footprint_bytes"] <= attrs["budget_bytes"]
        if attrs.get("seeded") == "large-sparse":
            assert attrs["footprint_bytes"] <= attrs["iso_level_bytes"]
        if "fit_note" in attrs:
            assert attrs["sparsity_actual"] > attrs["sparsity_target"]
    # The seeded large-sparse member of this study's lower level needs the fit (2756 B over its
    # 2736 B level without it): the search path really takes it.
    assert any(
        "fit_note" in t.user_attrs for t in done if t.user_attrs.get("seeded") == "large-sparse"
    )


def test_every_trial_saves_weights_that_reload_with_their_zeros(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    study = run(write_config(trials=2))
    for trial in completed(study):
        path = tmp_path / "run" / trial.user_attrs["artifact"]
        checkpoint = load_sparse(path)
        assert checkpoint.metadata["trial"] == trial.number
        assert checkpoint.metadata["width"] == trial.user_attrs["width"]
        assert path.stat().st_size == trial.user_attrs["file_bytes"]


def test_failures_are_recorded_with_reasons_and_the_search_goes_on(
    write_config: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "failing_task.py").write_text(FAILING_TASK)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    study = run(write_config(task="failing_task:TASK", trials=6, budget=30000))
    states = {t.state for t in study.trials}
    assert TrialState.FAIL in states and TrialState.COMPLETE in states
    assert len(study.trials) == 6
    reasons = {t.user_attrs["fail_reason"] for t in study.trials if t.state == TrialState.FAIL}
    assert reasons <= {
        "FloatingPointError: training loss became nan at step 3",
        "RuntimeError: boom",
    }
    assert study_status(study).last_error is not None


def test_resume_continues_to_the_new_budget_without_repeating_seeded_pairs(
    write_config: Callable[..., Path],
) -> None:
    first = run(write_config(trials=3))
    seeded_before = [t.number for t in first.trials if "seeded" in t.user_attrs]
    assert seeded_before == [0, 1]  # one pair fits this budget; both ran in the first run
    study = run(write_config(trials=5))
    assert len(study.trials) == 5
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    assert [t.number for t in study.trials if "seeded" in t.user_attrs] == seeded_before


def test_resume_with_a_changed_space_is_refused_naming_the_difference(
    write_config: Callable[..., Path],
) -> None:
    run(write_config(trials=1))
    changed = write_config(trials=2, widths="[0.5, 1.0]")
    with pytest.raises(PrunefrontError, match=r"space\.widths"):
        run(changed)


def test_a_candidate_over_budget_in_real_bytes_fails_with_the_figures_and_stays_off_the_front(
    write_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # An analytic footprint that misses the real one (as relative indexing's expected fillers
    # can, for zeros that cluster): the prediction says 1 B for the dense full-width model.
    monkeypatch.setattr(SearchSpace, "footprint", lambda self, width, sparsity, pattern: 1)
    monkeypatch.setattr(SearchSpace, "sparsity_of", lambda self, width, pattern, u: 0.0)
    study = run(write_config(trials=2, widths="[1.0]"))
    assert [t.state for t in study.trials] == [TrialState.FAIL] * 2
    reason = study.trials[0].user_attrs["fail_reason"]
    assert reason.startswith("over budget: the trained model takes ")
    assert "the budget is 6000 B (predicted 1 B before training)" in reason
    assert int(reason.split(" takes ")[1].split(" B")[0]) > 6000  # the real bytes, measured
    assert study.trials[0].constraints == {"footprint": 1 - 6000}  # feasible as predicted


def test_resuming_a_study_of_another_search_format_is_refused(
    write_config: Callable[..., Path],
) -> None:
    study = run(write_config(trials=1))
    study.set_user_attr("prunefront_format", 1)  # as written before width became an index
    with pytest.raises(PrunefrontError, match=r"study format 1 .* new search\.study_name"):
        run(write_config(trials=2))


def test_resuming_when_the_budget_fits_other_widths_is_refused(
    write_config: Callable[..., Path],
) -> None:
    study = run(write_config(trials=1))
    assert study.user_attrs["widths"] == [0.25, 0.5, 1.0]
    study.set_user_attr("widths", [0.5, 1.0])  # as if the footprint model had dropped 0.25
    with pytest.raises(PrunefrontError, match=r"width_index would mean other widths"):
        run(write_config(trials=2))


def test_sqlite_storage_for_one_worker_and_refused_for_two(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    study = run(write_config(trials=2, storage=url))
    assert len(completed(study)) == 2
    with pytest.raises(PrunefrontError, match="SQLite supports one worker"):
        plan_search(load_config(write_config(trials=2, storage=url)), workers=2)


def test_status_reads_a_run_folder_and_lists_the_front(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    run(write_config(trials=3))
    status = study_status(open_study(None, run=tmp_path / "run"))
    assert status.counts == {"COMPLETE": 3}
    assert status.budget_used == 3 and status.budget == 3
    assert 1 <= len(status.front) <= 3
    with pytest.raises(PrunefrontError, match="'nope' not found"):
        open_study("nope", run=tmp_path / "run")
    with pytest.raises(PrunefrontError, match="no study journal"):
        open_study(None, run=tmp_path)


BROKEN_TASK = """
from prunefront.testing import TinyTask


class Broken(TinyTask):
    def train(self, model, *, on_step, device, seed):
        raise ValueError("dataset file missing")


TASK = Broken(epochs=1)
"""


def test_a_task_that_always_fails_stops_the_search_early_with_its_reason(
    write_config: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "broken_task.py").write_text(BROKEN_TASK)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PrunefrontError, match="dataset file missing"):
        run(write_config(task="broken_task:TASK", trials=20))
    study = open_study("t", run=tmp_path / "run")
    assert len(study.trials) == 3  # not 20


def test_grid_sampler_visits_the_grid_and_stops_at_the_budget(
    write_config: Callable[..., Path],
) -> None:
    path = write_config(trials=6, widths="[0.25, 0.5]")
    path.write_text(
        path.read_text().replace('sampler = "random"', 'sampler = "grid"\ngrid_sparsities = 3')
    )
    study = run(path)
    assert {t.state for t in study.trials} == {TrialState.COMPLETE}
    # A grid point that is a seeded pair's candidate (width 0.25 dense) takes its results free.
    copies = [t for t in study.trials if "duplicate_of" in t.user_attrs]
    assert all(study.trials[t.user_attrs["duplicate_of"]].user_attrs["seeded"] for t in copies)
    assert len(study.trials) - len(copies) == 6
    seen = {
        (t.params["width_index"], t.params["sparsity_u"])
        for t in study.trials
        if "seeded" not in t.user_attrs
    }
    assert len(seen) == len(study.trials) - sum("seeded" in t.user_attrs for t in study.trials)


def test_a_candidate_drawn_again_takes_the_earlier_results_without_counting(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    first = run(write_config(trials=2))
    original = completed(first)[0]
    for _ in range(2):  # what a sampler that likes one corner of the space does
        first.enqueue_trial(original.params, skip_if_exists=False)
    study = run(write_config(trials=3))
    done = completed(study)
    copies = [t for t in done if "duplicate_of" in t.user_attrs]
    assert [t.user_attrs["duplicate_of"] for t in copies] == [original.number] * 2
    for copy in copies:
        assert copy.values == original.values
        assert copy.user_attrs["duplicate_free"] is True
        assert copy.user_attrs["train_seconds"] == 0.0
        assert copy.user_attrs["artifact"] == original.user_attrs["artifact"]
        assert "seeded" not in copy.user_attrs
        assert "phase" not in copy.user_attrs  # it never trained nor profiled
    # Three trials were trained (the budget), the copies came free on top.
    trained = [t for t in done if "duplicate_of" not in t.user_attrs]
    assert len(trained) == 3 and len(study.trials) == 5
    status = study_status(study)
    assert status.budget_used == 3 and status.duplicates == 2
    assert not {t.number for t in copies} & {f["number"] for f in status.front}
    from prunefront.reports import pareto_info, study_meta, trials_frame

    meta = study_meta(study)
    info = pareto_info(trials_frame(study, meta), meta)
    assert info.duplicates == {t.number: original.number for t in copies}
    assert not {t.number for t in copies} & set(info.candidates)


class _Stubborn(optuna.samplers.BaseSampler):
    """A sampler that always proposes the same corner: what the demo's GP did 14 times in a row."""

    def infer_relative_search_space(self, study: object, trial: object) -> dict:
        return {}

    def sample_relative(self, study: object, trial: object, search_space: object) -> dict:
        return {}

    def sample_independent(
        self, study: object, trial: object, name: str, distribution: object
    ) -> object:
        return {"pattern": "unstructured", "width_index": 0, "sparsity_u": 0.0}[name]


def test_a_sampler_that_repeats_itself_still_trains_a_new_candidate_each_budgeted_trial(
    write_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from prunefront.search import _runner

    monkeypatch.setattr(_runner, "make_sampler", lambda *args, **kwargs: _Stubborn())
    path = write_config(trials=5)
    path.write_text(path.read_text().replace("iso_levels = 2", "iso_levels = 0"))
    study = run(path)
    done = completed(study)
    trained = [t for t in done if "duplicate_of" not in t.user_attrs]
    copies = [t for t in done if "duplicate_of" in t.user_attrs]
    candidates = {(t.user_attrs["width"], t.user_attrs["sparsity"]) for t in trained}
    assert len(trained) == 5 and len(candidates) == 5  # the budget, all distinct
    # Every trained trial after the first is a uniform draw queued after a repeat.
    explorers = [t for t in trained if "explores_after" in t.user_attrs]
    assert len(explorers) == 4
    assert {t.user_attrs["explores_after"] for t in explorers} <= {t.number for t in copies}
    assert all(t.user_attrs["duplicate_free"] for t in copies)


def test_an_exploration_point_is_queued_only_with_budget_left_and_none_waiting() -> None:
    from prunefront.search._trials import queue_exploration
    from prunefront.testing import TinyTask

    space = SearchSpace(TinyTask().build, widths=[0.25, 0.5, 1.0], budget_bytes=6000)
    study = optuna.create_study(directions=["maximize", "minimize"])
    trained = {"width": 0.25, "pattern": "unstructured", "sparsity_target": 0.0}
    study.add_trial(optuna.trial.create_trial(values=[0.5, 1.0], user_attrs=trained))
    study.ask()  # running elsewhere: it counts against the budget too

    def waiting() -> list[optuna.trial.FrozenTrial]:
        return study.get_trials(states=(TrialState.WAITING,))

    assert queue_exploration(study, space, run_seed=0, after=0, budget=2) is None  # budget used
    assert waiting() == []
    assert queue_exploration(study, space, run_seed=0, after=0, budget=5) is not None
    [point] = waiting()
    assert point.user_attrs["explores_after"] == 0
    assert point.system_attrs["fixed_params"] != space.params_for(0.25, "unstructured", 0.0)
    assert queue_exploration(study, space, run_seed=0, after=1, budget=5) is None  # one waits
    assert len(waiting()) == 1


def test_same_candidate_needs_the_same_training() -> None:
    from optuna.trial import create_trial

    from prunefront.search._trials import budget_used, same_candidate

    def done(number: int, **attrs: object) -> optuna.trial.FrozenTrial:
        base = {"width": 0.5, "pattern": "unstructured", "sparsity_target": 0.0, "seed": 0}
        base |= {"max_bytes": 6000, "footprint_bytes": 5000}
        trial = create_trial(values=[0.9, 1.0], user_attrs=base | attrs)
        trial.number = number
        return trial

    key = {
        "width": 0.5,
        "pattern": "unstructured",
        "sparsity": 0.0,
        "seed": 0,
        "train_device": "cpu",
    }
    trials = [done(0, seed=1), done(1, duplicate_of=5), done(2, train_device="cuda"), done(3)]
    assert same_candidate(trials, **key, max_bytes=6000).number == 3  # type: ignore[union-attr]
    # Another cap acts alike where the earlier trial needed no fit and fits it too ...
    assert same_candidate(trials, **key, max_bytes=5000) is not None
    assert same_candidate(trials, **key, max_bytes=4999) is None
    # ... but not where the earlier trial was fitted to its own cap.
    fitted = [done(4, fit_note="pruned further", max_bytes=5500)]
    assert same_candidate(fitted, **key, max_bytes=6000) is None
    assert same_candidate(trials, **{**key, "sparsity": 0.5}, max_bytes=6000) is None
    free = done(5, duplicate_of=3, duplicate_free=True)
    assert budget_used([*trials, free]) == 4
