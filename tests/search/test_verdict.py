"""The iso-footprint verdict of a real search: equal-footprint pairs, seed replicates, intervals."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from prunefront.cli import main
from prunefront.config import load_config
from prunefront.reports import Requirements, build_report, deployment_card, select_trial, study_meta
from prunefront.reports import trials_frame as frame_of
from prunefront.search import plan_search, run_search

# Non-default task options and schedule: the card's command must carry both.
EXTRA = """
[space.schedule]
begin_frac = 0.25
end_frac = 0.7
updates = 6
"""


def _search(write_config: Callable[..., Path], **kwargs: object) -> optuna.Study:
    config = write_config(pair_seeds=3, options="{ epochs = 3 }", **kwargs)
    text = config.read_text().replace("[budget]", EXTRA + "\n[budget]")
    config.write_text(text)
    return run_search(plan_search(load_config(config)), say=lambda line: None)


@pytest.fixture(scope="module")
def searched(write_module_config: Callable[..., Path]) -> tuple[optuna.Study, Path]:
    study = _search(write_module_config, trials=7)
    return study, Path(study.user_attrs["prunefront_config"]["search"]["run_dir"])


def test_every_pair_compares_a_wider_sparse_model_with_a_dense_one_of_equal_bytes(
    searched: tuple[optuna.Study, Path],
) -> None:
    study, _ = searched
    pairs = [t for t in study.get_trials(deepcopy=False) if "seeded" in t.user_attrs]
    assert len(pairs) == 6  # one level x 2 sides x 3 seeds, trained as trials of their own
    assert all(t.state == TrialState.COMPLETE for t in pairs)
    assert not any("duplicate_of" in t.user_attrs for t in pairs)
    iso = build_report(study).iso
    assert iso.rows
    for row in iso.rows:
        sparse, dense = row.large_sparse, row.small_dense
        assert sparse is not None and dense is not None
        assert sparse.width > dense.width
        assert sparse.seeds == dense.seeds == (0, 1, 2)
        for side in (sparse, dense):
            assert side.footprints_in_level
            assert 0.9 * row.level_bytes <= side.footprint_bytes <= row.level_bytes
        # Different seeds are real replicates: different initial weights give other metrics.
        assert len(set(dense.metric_values)) > 1


def test_each_winner_agrees_with_its_interval(searched: tuple[optuna.Study, Path]) -> None:
    study, _ = searched
    data = build_report(study)
    for row in data.iso.rows:
        metric = row.comparison["metric"]
        low, high = metric["ci95"]
        assert metric["n"] == 3
        if row.winners["metric"] == "undecided":
            assert low <= 0 <= high
        else:
            assert low > 0 or high < 0
        ratio = row.comparison["latency_ratio"]
        assert ratio["rounds"] >= 20  # measured side by side after the search
        r_low, r_high = ratio["ci95"]
        if row.winners["latency_ms"] == "undecided":
            assert r_low <= 1 <= r_high or "oversubscribed" in ratio["reason"]
        else:
            assert r_low > 1 or r_high < 1
    assert data.verdict.lines and data.verdict.lines[0].startswith(f"At {row.level_bytes:,} B")
    assert study.user_attrs["final_latency"]["trials"]  # the front, re-measured side by side


def test_the_cards_command_reproduces_the_trials_metric(
    searched: tuple[optuna.Study, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    study, _ = searched
    frame, meta = frame_of(study), study_meta(study)
    selection = select_trial(frame, meta, Requirements(prefer="metric"))
    card = deployment_card(frame, meta, selection, source="test")
    command = shlex.split(card["reproduce"])
    assert "--task-option" in command and "epochs=3" in command
    assert command[command.index("--begin-frac") + 1] == "0.25"
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main([*command[1:], "--json"])
    assert info.value.code == 0
    document = json.loads(capsys.readouterr().out)
    trial = study.trials[selection.chosen]
    assert document["metric"]["value"] == trial.user_attrs["metric_value"]


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("pair_seeds = 0", "search.pair_seeds"),
        ("pair_seeds = -2", "search.pair_seeds"),
        ("pair_seeds = nan", "search.pair_seeds"),
        ("pair_seeds = 2.5", "search.pair_seeds"),
        ('pair_seeds = "3"', "search.pair_seeds"),
    ],
)
def test_bad_pair_seeds_is_one_line_exit_two_and_writes_nothing(
    write_config: Callable[..., Path], capsys: pytest.CaptureFixture[str], line: str, key: str
) -> None:
    path = write_config()
    path.write_text(path.read_text().replace("pair_seeds = 1", line))
    with pytest.raises(SystemExit) as info:
        main(["search", str(path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2
    assert len(err) == 1 and err[0].startswith(f"error: {key}")
    assert not (path.parent / "run").exists()


@pytest.mark.parametrize(
    ("width", "says"),
    [("0.3", "must be one of space.widths"), ("0.25", "not wider than any level's width")],
)
def test_bad_iso_large_width_is_one_line_exit_two_and_writes_nothing(
    write_config: Callable[..., Path], capsys: pytest.CaptureFixture[str], width: str, says: str
) -> None:
    path = write_config()
    path.write_text(
        path.read_text().replace("iso_levels = 2", f"iso_levels = 2\niso_large_width = {width}")
    )
    with pytest.raises(SystemExit) as info:
        main(["search", str(path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2
    assert len(err) == 1 and err[0].startswith("error: space.iso_large_width") and says in err[0]
    assert not (path.parent / "run").exists()


def test_a_chosen_large_width_is_the_sparse_side_of_every_pair(
    write_config: Callable[..., Path],
) -> None:
    from prunefront.search._study import seeded_pair_trials
    from prunefront.search._worker import build_space, make_task

    path = write_config(widths="[0.25, 0.5, 0.75, 1.0]", budget=20000)
    path.write_text(
        path.read_text().replace("iso_levels = 2", "iso_levels = 2\niso_large_width = 0.75")
    )
    config = load_config(path)
    space = build_space(config, make_task(config))
    trials = seeded_pair_trials(config, space)
    sparse = [p for p, a in trials if a["seeded"] == "large-sparse"]
    dense = [p for p, a in trials if a["seeded"] == "small-dense"]
    assert sparse and {space.widths[p["width_index"]] for p in sparse} == {0.75}
    assert all(space.widths[p["width_index"]] < 0.75 for p in dense)
