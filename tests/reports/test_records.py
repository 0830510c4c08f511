"""The records a report draws: frame, fronts, iso-footprint table, hypervolume, provenance."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from prunefront.reports import (
    build_report,
    hypervolume_history,
    iso_footprint_table,
    pareto_info,
    pareto_mask,
    study_meta,
    trials_frame,
)


def test_frame_has_one_row_per_trial_with_values_by_objective_name(
    paper_study: optuna.Study,
) -> None:
    frame = trials_frame(paper_study)
    assert list(frame["number"]) == list(range(10))
    assert frame.loc[1, "values_latency_ms"] == 2.0
    assert frame.loc[1, "values_energy_mj"] == 3.0
    assert frame.loc[1, "metric"] == 0.86
    assert frame.loc[8, "state"] == "FAIL"
    assert math.isnan(frame.loc[8, "values_metric"])
    assert frame.loc[1, "duration_s"] == 300.0
    assert bool(frame.loc[6, "feasible"]) is False  # 80 kB over the 60 kB budget
    assert frame.loc[6, "constraint_footprint"] == 20_000
    assert frame.loc[1, "family"] == "large-sparse" and frame.loc[5, "family"] == "small-dense"


def test_meta_reads_objectives_metric_and_task(paper_study: optuna.Study) -> None:
    meta = study_meta(paper_study)
    assert meta.objectives == ("metric", "latency_ms", "energy_mj")
    assert meta.directions == ("maximize", "minimize", "minimize")
    assert (meta.metric_name, meta.metric_direction) == ("accuracy", "maximize")
    assert meta.task_ref == "mnist1d-cnn"


def test_pareto_mask_handles_mixed_directions_and_keeps_ties() -> None:
    points = np.array([[0.9, 2.0], [0.8, 1.0], [0.7, 3.0], [0.9, 2.0]])
    assert pareto_mask(points, ["maximize", "minimize"]).tolist() == [True, True, False, True]
    # Both minimised: now (0.7, 3.0) is best in the first objective and survives.
    assert pareto_mask(points, ["minimize", "minimize"]).tolist() == [False, True, True, False]


def test_front_leaves_out_infeasible_failed_and_pruned_trials(paper_study: optuna.Study) -> None:
    data = build_report(paper_study)
    assert data.pareto.front == (3, 2, 4, 5)  # best accuracy first
    assert data.pareto.infeasible == (6,)  # best accuracy of all, but over the byte budget
    assert 6 not in data.pareto.candidates and 1 in data.pareto.candidates
    assert data.pareto.not_complete == {"FAIL": (8,), "PRUNED": (9,)}
    assert data.pareto.pairwise["footprint_bytes"] == (3, 1, 4, 5)


def test_front_of_a_minimised_metric_prefers_the_lowest_value(studies: type) -> None:
    specs = [
        studies.spec(width=1.0, sparsity=0.5, metric=1.5, latency_ms=2.0, footprint_bytes=1000),
        studies.spec(width=0.5, sparsity=0.0, metric=1.8, latency_ms=1.0, footprint_bytes=1000),
        studies.spec(width=0.5, sparsity=0.2, metric=1.9, latency_ms=1.5, footprint_bytes=1000),
    ]
    study = studies.make(specs, metric_name="bits_per_char", direction="minimize")
    info = pareto_info(trials_frame(study), study_meta(study))
    assert info.front == (0, 1)


def _replicates(studies: type, direction: str = "maximize") -> list[dict]:
    """Two levels, three seeds per side: a clear accuracy gap at 20 kB, noise at 40 kB."""
    s = studies.spec
    specs = []
    low = [(0.80, 0.86), (0.81, 0.875), (0.79, 0.85)]  # (dense, sparse) per seed
    high = [(0.85, 0.88), (0.88, 0.85), (0.84, 0.86)]
    for seed, ((d_lo, s_lo), (d_hi, s_hi)) in enumerate(zip(low, high, strict=True)):
        common = {"pair_seed": seed, "replicate": seed}
        specs += [
            s(
                width=0.5,
                sparsity=0.0,
                metric=d_lo,
                latency_ms=1.0,
                footprint_bytes=20_000,
                seeded="small-dense",
                iso_level_bytes=20_000,
                energy_mj=2.0 + 0.01 * seed,
                **common,
            ),
            s(
                width=1.0,
                sparsity=0.75,
                metric=s_lo,
                latency_ms=2.0,
                footprint_bytes=19_000,
                seeded="large-sparse",
                iso_level_bytes=20_000,
                energy_mj=3.0 + 0.02 * seed,
                **common,
            ),
            s(
                width=0.75,
                sparsity=0.0,
                metric=d_hi,
                latency_ms=1.5,
                footprint_bytes=40_000,
                seeded="small-dense",
                iso_level_bytes=40_000,
                **common,
            ),
            s(
                width=1.0,
                sparsity=0.5,
                metric=s_hi,
                latency_ms=2.0,
                footprint_bytes=39_000,
                seeded="large-sparse",
                iso_level_bytes=40_000,
                **common,
            ),
        ]
    # A sampler trial that would beat the pair under 20 kB: it must not enter the pair rows.
    specs.append(s(width=0.5, sparsity=0.1, metric=0.99, latency_ms=0.5, footprint_bytes=9_000))
    return specs


def _pair_study(studies: type) -> optuna.Study:
    study = studies.make(_replicates(studies))
    study.set_user_attr(
        "pair_latency",
        {
            "20000": {
                "value": 1.8,
                "ci95": [1.7, 1.9],
                "rounds": 60,
                "a_ms": 1.8,
                "b_ms": 1.0,
                "method": "perf_counter",
                "large_sparse_trial": 1,
                "small_dense_trial": 0,
            },
            "40000": {
                "value": 1.01,
                "ci95": [0.97, 1.05],
                "rounds": 80,
                "a_ms": 2.0,
                "b_ms": 1.98,
                "method": "perf_counter",
            },
        },
    )
    return study


def test_iso_rows_pair_the_seeded_replicates_and_never_a_sampler_trial(studies: type) -> None:
    table = build_report(_pair_study(studies)).iso
    assert [r.level_bytes for r in table.rows] == [20_000, 40_000]
    low, _ = table.rows
    assert low.small_dense.trials == (0, 4, 8) and low.large_sparse.trials == (1, 5, 9)
    assert low.large_sparse.width > low.small_dense.width
    assert low.small_dense.metric_values == (0.80, 0.81, 0.79)
    assert low.small_dense.metric_mean == pytest.approx(0.80)
    assert low.small_dense.metric_std == pytest.approx(0.01)
    for row in table.rows:
        for side in (row.large_sparse, row.small_dense):
            assert side.footprints_in_level
            assert 0.9 * row.level_bytes <= side.footprint_bytes <= row.level_bytes
            assert len(side.seeds) >= 3


def test_a_winner_is_named_only_where_its_interval_excludes_no_difference(
    studies: type,
) -> None:
    low, high = build_report(_pair_study(studies)).iso.rows
    metric = low.comparison["metric"]
    assert metric["difference"] == pytest.approx((0.06 + 0.065 + 0.06) / 3)
    assert metric["n"] == 3 and metric["ci95"][0] > 0
    assert (
        low.winners
        == {
            "metric": "large-sparse",  # the paper's finding, beyond the seeds' noise
            "latency_ms": "small-dense",  # ratio 1.8 [1.7, 1.9]
            "energy_mj": "small-dense",
            "footprint_bytes": "undecided",  # 19,000 vs 20,000 B: equal by construction (< 1 %)?
        }
        or low.winners["footprint_bytes"] == "large-sparse"
    )
    assert low.large_sparse.latency_ms == 1.8 and low.small_dense.latency_ms == 1.0
    # At 40 kB the paired differences straddle 0 and the latency interval holds 1.
    assert high.comparison["metric"]["ci95"][0] < 0 < high.comparison["metric"]["ci95"][1]
    assert high.winners["metric"] == "undecided"
    assert high.winners["latency_ms"] == "undecided"
    assert high.winners["energy_mj"] == "undecided"
    assert "not measured" in high.comparison["energy_ratio"]["reason"]


def test_one_seed_per_side_names_no_metric_winner(studies: type) -> None:
    # The old seeding: one replicate each. A 0.06 gap from one seed is not a verdict.
    specs = [s for s in _replicates(studies) if s.get("pair_seed") == 0]
    study = studies.make(specs)
    low = iso_footprint_table(trials_frame(study), study_meta(study)).rows[0]
    assert low.comparison["metric"]["n"] == 1
    assert low.winners["metric"] == "undecided"
    assert low.winners["latency_ms"] == "undecided"  # not measured side by side


def test_a_minimised_metric_wins_by_a_negative_difference(studies: type) -> None:
    specs = _replicates(studies)
    for spec in specs:  # bits per char: lower is better; flip the accuracies into losses
        spec["metric"] = 2.0 - spec["metric"]
    study = studies.make(specs, metric_name="bits_per_char", direction="minimize")
    low = iso_footprint_table(trials_frame(study), study_meta(study)).rows[0]
    assert low.comparison["metric"]["difference"] < 0
    assert low.winners["metric"] == "large-sparse"


def test_best_under_level_view_stays_apart_and_labelled(studies: type) -> None:
    table = build_report(_pair_study(studies)).iso
    low = table.best_under_level[0]
    assert low["level_bytes"] == 20_000
    assert low["large-sparse"]["trial"] == 12  # the sampler trial: best under the level, not a pair


def test_iso_table_without_seeded_pairs_has_no_rows_but_a_best_under_level_view(
    studies: type,
) -> None:
    specs = [
        {k: v for k, v in s.items() if k not in ("seeded", "iso_level_bytes")}
        for s in studies.paper_specs()
    ]
    study = studies.make(specs)
    table = iso_footprint_table(trials_frame(study), study_meta(study))
    assert table.rows == ()
    levels = [level["level_bytes"] for level in table.best_under_level]
    assert levels == sorted(levels) and levels[-1] == 40_000


def test_iso_row_without_one_side_has_no_winner(studies: type) -> None:
    specs = [
        studies.spec(
            width=1.0,
            sparsity=0.8,
            metric=0.9,
            latency_ms=1.0,
            footprint_bytes=500,
            seeded="large-sparse",
            iso_level_bytes=520,
            pair_seed=0,
        )
    ]
    study = studies.make(specs)
    (row,) = iso_footprint_table(trials_frame(study), study_meta(study)).rows
    assert row.small_dense is None and row.large_sparse.trials == (0,)
    assert set(row.winners.values()) == {"undecided"}


def test_the_verdict_says_each_levels_winners_in_words(studies: type) -> None:
    data = build_report(_pair_study(studies))
    low, high = data.verdict.lines
    assert low.startswith("At 20,000 B (width 0.5 dense")
    assert "accuracy: large-sparse wins" in low and "3 seeds" in low
    assert "latency: small-dense wins" in low
    assert "accuracy: undecided — raise search.pair_seeds" in high
    document = data.to_dict()
    assert document["verdict"]["levels"][0]["winners"]["metric"] == "large-sparse"
    assert document["budget_bytes"] == 60_000


def test_hypervolume_in_two_objectives_is_exact_with_a_recorded_reference(studies: type) -> None:
    specs = [
        studies.spec(width=1.0, sparsity=0.5, metric=0.9, latency_ms=2.0, footprint_bytes=100),
        studies.spec(width=0.5, sparsity=0.0, metric=0.8, latency_ms=1.0, footprint_bytes=100),
        studies.spec(width=0.5, sparsity=0.3, metric=0.7, latency_ms=3.0, footprint_bytes=100),
    ]
    study = studies.make(specs)
    hv = hypervolume_history(trials_frame(study), study_meta(study))
    # worst metric 0.7 and latency 3.0, moved 10 % of the range (0.2, 2.0) further out
    assert hv.reference_point == pytest.approx((0.68, 3.2))
    assert hv.ideal_point == pytest.approx((0.9, 1.0))
    # A alone: 0.22 x 1.2; A and B: 0.264 + 0.264 - 0.144; C is dominated
    assert hv.hypervolume == pytest.approx((0.264, 0.384, 0.384))
    assert hv.normalized[-1] == pytest.approx(0.384 / (0.22 * 2.2))


def test_hypervolume_in_three_objectives_is_exact(studies: type) -> None:
    specs = [
        studies.spec(
            width=1.0, sparsity=0.5, metric=0.9, latency_ms=2.0, footprint_bytes=1, energy_mj=2.0
        ),
        studies.spec(
            width=0.5, sparsity=0.0, metric=0.8, latency_ms=1.0, footprint_bytes=1, energy_mj=3.0
        ),
    ]
    study = studies.make(specs, objectives=("metric", "latency_ms", "energy_mj"))
    hv = hypervolume_history(trials_frame(study), study_meta(study))
    assert hv.reference_point == pytest.approx((0.79, 2.1, 3.1))
    # boxes 0.11*0.1*1.1 and 0.01*1.1*0.1 overlap in 0.01*0.1*0.1
    assert hv.hypervolume == pytest.approx((0.0121, 0.0121 + 0.0011 - 0.0001))


def test_hypervolume_follows_completion_order_and_ignores_infeasible_trials(studies: type) -> None:
    specs = [
        studies.spec(
            width=1.0, sparsity=0.5, metric=0.9, latency_ms=2.0, footprint_bytes=100, start_min=60
        ),
        studies.spec(
            width=0.5, sparsity=0.0, metric=0.8, latency_ms=1.0, footprint_bytes=100, start_min=0
        ),
        studies.spec(
            width=1.0,
            sparsity=0.0,
            metric=0.99,
            latency_ms=0.1,
            footprint_bytes=10**9,
            start_min=30,
        ),  # over the budget: must not count
    ]
    study = studies.make(specs)
    hv = hypervolume_history(trials_frame(study), study_meta(study))
    assert hv.trials == (1, 2, 0)
    assert hv.hypervolume[0] == hv.hypervolume[1] > 0
    assert hv.hypervolume[2] > hv.hypervolume[1]


def test_states_failures_and_reasons(paper_study: optuna.Study) -> None:
    data = build_report(paper_study)
    assert data.states == {"COMPLETE": 8, "FAIL": 1, "PRUNED": 1, "RUNNING": 0, "WAITING": 0}
    reasons = {f.trial: (f.state, f.reason) for f in data.failures}
    assert reasons[8] == ("FAIL", "CUDA out of memory <at> layer 'conv1'")
    assert reasons[9] == ("PRUNED", "hopeless after 3 epochs")
    assert reasons[6] == ("INFEASIBLE", "constraint footprint exceeded by 20,000")


def test_failure_without_reason_says_so(studies: type) -> None:
    spec = studies.spec(
        width=1.0,
        sparsity=0.5,
        metric=0.0,
        latency_ms=0.0,
        footprint_bytes=1,
        state=TrialState.FAIL,
    )
    data = build_report(studies.make([spec]))
    assert data.failures[0].reason.startswith("no reason recorded")
    assert data.notes and "no complete trial" in data.notes[0]
    assert data.pareto.front == () and data.iso.rows == () and data.hypervolume.trials == ()


def test_provenance_counts_kinds_methods_and_strategies(paper_study: optuna.Study) -> None:
    p = build_report(paper_study).provenance
    assert p.counts["latency_kind"] == {"measured": 8}
    assert p.counts["latency_strategy"] == {"masked_dense": 7, "csr": 1}
    assert p.counts["energy_method"] == {"nvml_energy_counter": 8}
    assert p.strategy_by_trial[4] == "csr"
    assert p.measurements == {"latency_ms / measured / perf_counter": 8}
    assert p.versions[0]["versions"] == {"torch": "2.13", "optuna": "5.0.0"}
    assert p.device["name"] == "Test CPU"


def test_search_cost_sums_workers_and_trial_time(paper_study: optuna.Study) -> None:
    cost = build_report(paper_study).cost
    assert cost.totals == {"seconds": 150.0, "energy_kwh": 0.01}
    assert cost.train_seconds == 20.0 and cost.profile_seconds == 5.0
    assert cost.trial_seconds == 10 * 300.0
    assert cost.wall_seconds == 95 * 60.0  # first start 22:00, last completion 23:35


def test_summary_is_strict_json(paper_study: optuna.Study) -> None:
    import json

    from prunefront.reports._json import dumps

    document = json.loads(dumps(build_report(paper_study).to_dict()))
    assert document["pareto"]["front"] == [3, 2, 4, 5]
    row = document["iso_footprint"]["rows"][0]
    assert row["winners"]["metric"] == "undecided"  # one seed per side: no interval
    assert row["comparison"]["metric"]["ci95"] is None


def test_search_cost_reads_the_records_each_worker_stored(studies: type) -> None:
    spec = studies.spec(width=1.0, sparsity=0.5, metric=0.9, latency_ms=1.0, footprint_bytes=1)
    study = studies.make([spec], search_cost={})
    study.set_user_attr(
        "search_cost:host-a:1700000000",
        {"wall_s": 30.0, "kind": "estimated", "method": "codecarbon", "energy_kwh": 0.002},
    )
    study.set_user_attr(
        "search_cost:host-b:1700000005",
        {"wall_s": 20.0, "kind": "unavailable", "method": "codecarbon", "reason": "no RAPL"},
    )
    cost = build_report(study).cost
    assert set(cost.per_worker) == {"host-a:1700000000", "host-b:1700000005"}
    assert cost.totals == {"wall_s": 50.0, "energy_kwh": 0.002}
    assert cost.per_worker["host-b:1700000005"]["reason"] == "no RAPL"


def test_energy_measured_side_by_side_decides_the_energy_winner(studies: type) -> None:
    study = _pair_study(studies)
    pairs = dict(study.user_attrs["pair_latency"])
    pairs["40000"] = {
        **pairs["40000"],
        "energy": {
            "value": 0.8,
            "ci95": [0.75, 0.86],
            "rounds": 5,
            "method": "nvml_energy_counter",
        },
    }
    study.set_user_attr("pair_latency", pairs)
    high = build_report(study).iso.rows[1]
    assert high.comparison["energy_ratio"]["side_by_side"] is True
    assert high.comparison["energy_ratio"]["n"] == 5
    assert high.winners["energy_mj"] == "large-sparse"


def test_a_pair_timed_on_an_oversubscribed_machine_names_no_latency_winner(studies: type) -> None:
    study = _pair_study(studies)
    pairs = dict(study.user_attrs["pair_latency"])
    pairs["20000"] = {**pairs["20000"], "load_per_core": 7.0}
    study.set_user_attr("pair_latency", pairs)
    low = build_report(study).iso.rows[0]
    assert low.comparison["latency_ratio"]["ci95"] == [1.7, 1.9]  # excludes 1, yet:
    assert low.winners["latency_ms"] == "undecided"
    assert "oversubscribed" in low.comparison["latency_ratio"]["reason"]
