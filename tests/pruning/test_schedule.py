"""The schedule equals the paper's formula and tfmot's PolynomialDecay semantics."""

from __future__ import annotations

import pytest

from prunefront.errors import PrunefrontError
from prunefront.pruning import PolynomialDecay, default_schedule


def paper_formula(t: int, s_i: float, s_f: float, t0: int, dt: int, n: int) -> float:
    return s_f + (s_i - s_f) * (1 - (t - t0) / (n * dt)) ** 3


def tfmot_polynomial(
    step: int, s_i: float, s_f: float, begin: int, end: int, power: float
) -> float:
    p = min(max((step - begin) / (end - begin), 0.0), 1.0)
    return s_f + (s_i - s_f) * (1 - p) ** power


def test_paper_milestones_for_ninety_percent_over_one_hundred_steps() -> None:
    sched = PolynomialDecay.from_paper(s_f=0.9, t0=0, dt=1, n=100)
    assert sched.sparsity(24) == pytest.approx(0.5, abs=0.01)
    assert sched.sparsity(45) == pytest.approx(0.75, abs=0.01)
    assert sched.sparsity(70) == pytest.approx(0.875, abs=0.01)
    assert sched.sparsity(100) == pytest.approx(0.9, abs=1e-12)


@pytest.mark.parametrize(
    ("s_i", "s_f", "t0", "dt", "n"), [(0.0, 0.9, 0, 1, 100), (0.1, 0.75, 40, 7, 13)]
)
def test_paper_formula_holds_at_every_pruning_step(
    s_i: float, s_f: float, t0: int, dt: int, n: int
) -> None:
    sched = PolynomialDecay.from_paper(s_i=s_i, s_f=s_f, t0=t0, dt=dt, n=n)
    for k in range(n + 1):
        t = t0 + k * dt
        assert sched.is_update_step(t)
        assert sched.sparsity(t) == pytest.approx(paper_formula(t, s_i, s_f, t0, dt, n), abs=1e-12)


def test_sweep_matches_tfmot_value_and_update_rule() -> None:
    begin, end, freq, power = 17, 317, 25, 3.0
    sched = PolynomialDecay(
        initial_sparsity=0.05, final_sparsity=0.8, begin_step=begin, end_step=end, frequency=freq
    )
    for point in sched.points(range(400)):
        step = point.step
        assert point.sparsity == pytest.approx(
            tfmot_polynomial(step, 0.05, 0.8, begin, end, power), abs=1e-12
        )
        assert point.mask_update == (begin <= step <= end and (step - begin) % freq == 0)


def test_edges_before_at_and_after_the_schedule() -> None:
    sched = PolynomialDecay(final_sparsity=0.9, begin_step=10, end_step=110, frequency=10)
    assert sched.sparsity(0) == 0.0
    assert sched.sparsity(10) == 0.0  # at begin_step the sparsity is the initial one
    assert not sched.is_update_step(9)
    assert sched.is_update_step(10)
    assert sched.sparsity(110) == pytest.approx(0.9)
    assert sched.sparsity(10_000) == pytest.approx(0.9)
    assert not sched.is_update_step(120)


def test_final_sparsity_is_reached_when_span_is_not_a_multiple_of_frequency() -> None:
    sched = PolynomialDecay(final_sparsity=0.8, begin_step=0, end_step=10, frequency=3)
    assert not sched.lands_on_grid
    assert sched.notes and "end_step" in sched.notes[0]
    assert sched.update_steps() == [0, 3, 6, 9, 10]
    last = sched.points([10, 50])
    assert last[0].mask_update
    assert last[0].mask_sparsity == pytest.approx(0.8)
    assert last[1].mask_sparsity == pytest.approx(0.8)


def test_mask_sparsity_holds_between_updates() -> None:
    sched = PolynomialDecay(final_sparsity=0.5, begin_step=0, end_step=100, frequency=50)
    points = {p.step: p for p in sched.points(range(0, 101))}
    assert points[49].mask_sparsity == 0.0
    assert points[50].mask_sparsity == pytest.approx(sched.sparsity(50))
    assert points[99].mask_sparsity == pytest.approx(sched.sparsity(50))
    assert points[99].sparsity > points[99].mask_sparsity


def test_begin_equals_end_prunes_in_one_shot() -> None:
    sched = PolynomialDecay(final_sparsity=0.7, begin_step=5, end_step=5, frequency=1)
    assert sched.update_steps() == [5]
    assert sched.sparsity(4) == 0.0
    assert sched.sparsity(5) == pytest.approx(0.7)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"final_sparsity": 0.5, "begin_step": 10, "end_step": 5}, "end_step"),
        ({"final_sparsity": 0.5, "end_step": 5, "frequency": 0}, "frequency"),
        ({"final_sparsity": 1.0, "end_step": 5}, "final_sparsity"),
        ({"final_sparsity": -0.1, "end_step": 5}, "final_sparsity"),
        ({"final_sparsity": 0.5, "begin_step": -1, "end_step": 5}, "begin_step"),
        ({"final_sparsity": 0.3, "initial_sparsity": 0.5, "end_step": 5}, "initial_sparsity"),
        ({"final_sparsity": 0.5, "end_step": 5, "power": 0}, "power"),
    ],
)
def test_bad_schedules_are_refused_with_the_key_named(kwargs: dict, needle: str) -> None:
    with pytest.raises(PrunefrontError, match=needle):
        PolynomialDecay(**kwargs)


def test_default_schedule_fits_inside_training() -> None:
    sched = default_schedule(300, 0.9)
    assert sched.begin_step == 100
    assert sched.end_step == 225
    assert sched.end_step < 300
    assert len(sched.update_steps()) >= 20
    with pytest.raises(PrunefrontError, match="total_steps"):
        default_schedule(0, 0.5)
