"""What a real search stores, read back: every attribute declared, JSON-native values, names in
the user's terms for Optuna's own tools, and reports that read older studies identically."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from prunefront.config import load_config
from prunefront.reports import (
    Requirements,
    build_report,
    card_markdown,
    deployment_card,
    select_trial,
    study_meta,
    trials_frame,
    write_report,
)
from prunefront.search import plan_search, run_search
from prunefront.studies import (
    JOURNAL_NAME,
    STUDY_ATTRS,
    STUDY_PREFIXES,
    TRIAL_ATTRS,
    TrialKey,
)

WIDTHS = (0.25, 0.5, 1.0)
SPARSITY_MAX = 0.95  # conftest.config_text's space.sparsity_max


@pytest.fixture(scope="module")
def searched(write_module_config: Callable[..., Path]) -> Path:
    """A finished tiny search (the seeded pairs of two levels and one sampler trial)."""
    path = write_module_config(trials=5)
    run_search(plan_search(load_config(path)), say=lambda line: None)
    return path.parent / "run" / JOURNAL_NAME


def _plain(journal: Path) -> optuna.Study:
    """The study as plain Optuna opens it: no prunefront class involved."""
    storage = JournalStorage(JournalFileBackend(str(journal)))
    (name,) = optuna.get_all_study_names(storage)
    return optuna.load_study(study_name=name, storage=storage)


def test_every_attribute_the_search_stores_is_declared_with_its_type(searched: Path) -> None:
    study = _plain(searched)
    trials = study.get_trials(deepcopy=False)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 5
    for trial in trials:
        undeclared = sorted(set(trial.user_attrs) - set(TRIAL_ATTRS))
        assert not undeclared, f"trial {trial.number} stores undeclared {undeclared}"
        for key, value in trial.user_attrs.items():
            assert TRIAL_ATTRS[key].accepts(value), f"trial {trial.number}: {key}={value!r}"
    for key, value in study.user_attrs.items():
        spec = STUDY_ATTRS.get(key)
        if spec is None and ":" in key:
            spec = STUDY_PREFIXES.get(key.split(":", 1)[0])
        assert spec is not None, f"the study stores undeclared {key}"
        assert spec.accepts(value), f"study attribute {key}={value!r}"


def test_nested_records_are_stored_as_json_values_not_json_text(searched: Path) -> None:
    for trial in _plain(searched).get_trials(deepcopy=False):
        attrs = trial.user_attrs
        assert {m["name"] for m in attrs["measurements"]} >= {"latency_ms", "energy_mj"}
        assert {"torch", "optuna", "prunefront"} <= set(attrs["versions"])
        assert attrs["device"]["device"] == "cpu"
        assert attrs["latency_strategy"] in {s["name"] for s in attrs["strategies"]}


def test_plain_optuna_reads_the_objectives_and_candidates_in_user_terms(searched: Path) -> None:
    study = _plain(searched)
    assert study.metric_names == ["accuracy", "latency_ms"]
    frame = study.trials_dataframe()
    assert {"values_accuracy", "values_latency_ms"} <= set(frame.columns)
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        attrs = trial.user_attrs
        assert attrs["width"] in WIDTHS
        assert 0.0 <= attrs["sparsity"] <= SPARSITY_MAX
        assert attrs["sparsity"] == attrs["sparsity_target"]
        assert attrs["pattern"] == "unstructured"
    sparse = [t for t in study.trials if t.user_attrs.get("seeded") == "large-sparse"]
    assert sparse and all(t.user_attrs["sparsity"] > 0.3 for t in sparse)


def _as_older_version_wrote_it(study: optuna.Study) -> optuna.Study:
    """A copy of ``study`` as prunefront wrote it before: nested records as JSON text, no
    ``sparsity`` attribute and no metric names."""
    old = optuna.create_study(study_name=study.study_name, directions=study.directions)
    for key, value in study.user_attrs.items():
        old.set_user_attr(key, value)
    for trial in study.get_trials():
        attrs = {
            key: json.dumps(value) if TRIAL_ATTRS[key].structured else value
            for key, value in trial.user_attrs.items()
            if key != TrialKey.SPARSITY
        }
        assert isinstance(attrs["measurements"], str)
        trial.user_attrs = attrs
        old.add_trial(trial)
    return old


def test_reports_read_a_study_of_the_older_form_identically(searched: Path, tmp_path: Path) -> None:
    new = _plain(searched)
    old = _as_older_version_wrote_it(new)
    texts = []
    for study, folder in ((new, tmp_path / "new"), (old, tmp_path / "old")):
        data = build_report(study)
        write_report(data, folder)
        meta = study_meta(study)
        frame = trials_frame(study, meta)
        card = deployment_card(frame, meta, select_trial(frame, meta, Requirements()), source="run")
        assert card["versions"]["torch"] and card["measurement_records"]
        texts.append(
            (
                json.dumps(data.to_dict(), sort_keys=True, default=str),
                (folder / "trials.csv").read_text(),
                (folder / "summary.json").read_text(),
                json.dumps(card, sort_keys=True, default=str),
                card_markdown(card),
            )
        )
    assert texts[0] == texts[1]
    # as before: the provenance counts a device by its JSON text
    assert '"device": {"{\\"device\\": \\"cpu\\"' in texts[0][0]
    assert '"{""python"": ""' in texts[0][1]  # the CSV holds versions as JSON text, as before
