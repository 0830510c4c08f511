"""The one declaration of what a study stores: writers refuse undeclared keys, readers read the
JSON text of older studies as the values stored now."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import optuna
import pytest

import prunefront
from prunefront.studies import (
    STUDY_ATTRS,
    TRIAL_ATTRS,
    StudyKey,
    TrialKey,
    UndeclaredAttributeError,
    profile_key,
    read_json_attr,
    read_trial_attrs,
    set_study_attrs,
    set_trial_attrs,
    target_key,
    trial_attrs,
)

PACKAGE = Path(prunefront.__file__).parent
SCHEMA = PACKAGE / "studies" / "_schema.py"


def _constants(cls: type) -> dict[str, str]:
    return {name: value for name, value in vars(cls).items() if name.isupper()}


def test_every_key_constant_is_declared_with_types_and_a_meaning() -> None:
    assert set(_constants(TrialKey).values()) == set(TRIAL_ATTRS)
    assert set(_constants(StudyKey).values()) >= set(STUDY_ATTRS)
    for spec in [*TRIAL_ATTRS.values(), *STUDY_ATTRS.values()]:
        assert spec.types and spec.meaning, spec.key
    assert TRIAL_ATTRS["retry_count"].types == (int,)
    assert {k for k, s in TRIAL_ATTRS.items() if s.structured} == {
        "measurements",
        "strategies",
        "device",
        "versions",
    }


def test_a_trial_writer_with_an_undeclared_key_stores_nothing_and_fails() -> None:
    study = optuna.create_study()
    trial = study.ask()
    with pytest.raises(UndeclaredAttributeError, match="'latency_millis'"):
        set_trial_attrs(trial, {TrialKey.WIDTH: 0.5, "latency_millis": 1.0})
    assert study.trials[0].user_attrs == {}
    with pytest.raises(UndeclaredAttributeError, match="'retries'"):
        trial_attrs({"retries": 1})
    set_trial_attrs(trial, {TrialKey.WIDTH: 0.5, TrialKey.RETRY_COUNT: 1})
    assert study.trials[0].user_attrs == {"width": 0.5, "retry_count": 1}


def test_a_study_writer_accepts_declared_keys_and_per_worker_and_target_prefixes() -> None:
    study = optuna.create_study()
    set_study_attrs(
        study,
        {
            StudyKey.WIDTHS: [0.5, 1.0],
            f"{StudyKey.SEARCH_COST}:host:1:1700000000": {"wall_s": 1.0},
            target_key("pi"): {"name": "pi"},
            profile_key("pi", 3): {"trial": 3},
        },
    )
    assert len(study.user_attrs) == 4
    for key in ("search_costs", "cost:host:1", "objective_names"):
        with pytest.raises(UndeclaredAttributeError):
            set_study_attrs(study, {key: 1})
    assert len(study.user_attrs) == 4


def test_json_text_of_an_older_study_reads_as_the_dicts_and_lists_stored_now() -> None:
    measurements = [{"name": "latency_ms", "value": 0.5, "kind": "measured"}]
    old = {
        "measurements": json.dumps(measurements),
        "versions": json.dumps({"torch": "2.13"}),
        "device": json.dumps({"device": "cpu"}),
        "strategies": "[]",
        "fail_reason": '["not", "json", "to", "read"]',
        "width": 0.5,
    }
    read = read_trial_attrs(old)
    assert read["measurements"] == measurements
    assert read["versions"] == {"torch": "2.13"}
    assert read["device"] == {"device": "cpu"}
    assert read["strategies"] == []
    assert read["fail_reason"] == old["fail_reason"]  # text, not a structured attribute
    assert read["width"] == 0.5
    new = {**old, "measurements": measurements, "versions": {"torch": "2.13"}}
    assert read_trial_attrs(new) == read
    assert read_json_attr("not json") == "not json"
    assert read_json_attr('"quoted"') == '"quoted"'  # only dicts and lists are decoded


def _writes(tree: ast.AST) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr
        in {"set_user_attr", "set_trial_user_attr", "set_study_user_attr", "enqueue_trial"}
    ]


def _declared_key(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "TrialKey"
        and node.attr in _constants(TrialKey)
    )


def test_every_writer_in_the_package_goes_through_the_declaration() -> None:
    """No module stores a user attribute around the checked writers of ``studies``."""
    offending = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == SCHEMA:
            continue
        for call in _writes(ast.parse(path.read_text(), str(path))):
            where = f"{path.relative_to(PACKAGE)}:{call.lineno}"
            name = call.func.attr  # type: ignore[attr-defined]
            if name == "enqueue_trial":
                attrs = [k.value for k in call.keywords if k.arg == "user_attrs"]
                checked = all(
                    isinstance(a, ast.Call)
                    and isinstance(a.func, ast.Name)
                    and a.func.id == "trial_attrs"
                    for a in attrs
                )
                if not checked:
                    offending.append(f"{where}: enqueue_trial(user_attrs=...) without trial_attrs")
            elif name == "set_trial_user_attr":
                if len(call.args) < 2 or not _declared_key(call.args[1]):
                    offending.append(f"{where}: set_trial_user_attr without a TrialKey constant")
            else:
                offending.append(f"{where}: {name} (use set_trial_attrs / set_study_attrs)")
    assert offending == []
