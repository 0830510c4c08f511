"""The search space as a sampler sees it: width as an ordered index, sparsity in its interval."""

from __future__ import annotations

import optuna
import pytest
from torch import nn

from prunefront.search._study import make_sampler
from prunefront.spaces._search_space import SearchSpace


def _mlp(width: float) -> nn.Sequential:
    hidden = max(1, round(64 * width))
    return nn.Sequential(nn.Linear(32, hidden), nn.ReLU(), nn.Linear(hidden, 10))


@pytest.fixture
def space() -> SearchSpace:
    full = (32 * 64 + 64 + 64 * 10 + 10) * 4
    return SearchSpace(_mlp, widths=[1.0, 0.25, 0.5], budget_bytes=full // 2)


def test_width_is_an_ordered_integer_over_the_ascending_widths(space: SearchSpace) -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    width, _, _ = space.suggest(trial)
    distribution = trial.distributions["width_index"]
    assert isinstance(distribution, optuna.distributions.IntDistribution)
    assert (distribution.low, distribution.high) == (0, 2)
    assert space.widths == (0.25, 0.5, 1.0)
    assert width == space.widths[trial.params["width_index"]]


def test_params_for_reproduces_the_candidate_through_suggest(space: SearchSpace) -> None:
    study = optuna.create_study()
    for width in space.widths:
        lo, hi = space.interval(width, "unstructured")
        sparsity = round(lo + (hi - lo) / 3, 4) if lo > 0 else 0.0
        study.enqueue_trial(space.params_for(width, "unstructured", sparsity))
        drawn = space.suggest(study.ask())
        assert drawn[0] == width and drawn[1] == "unstructured"
        assert drawn[2] == pytest.approx(sparsity, abs=1e-4)
        assert space.footprint(*drawn[::2], "unstructured") <= space.budget_bytes


def test_the_grid_covers_every_width_at_every_level(space: SearchSpace) -> None:
    grid = space.grid(4)
    assert grid["width_index"] == [0, 1, 2]
    assert grid["sparsity_u"] == pytest.approx([0, 1 / 3, 2 / 3, 1])
    sampler = make_sampler("grid", trials=12, seed=0, workers=1, grid=grid)
    study = optuna.create_study(sampler=sampler)
    seen = set()
    for _ in range(12):
        width, _, sparsity = space.suggest(trial := study.ask())
        study.tell(trial, 0.0)
        seen.add((width, sparsity))
    assert len(seen) == 12 and {w for w, _ in seen} == {0.25, 0.5, 1.0}


def test_every_worker_maps_a_trial_number_to_the_same_grid_point(space: SearchSpace) -> None:
    """Workers have their own seeds; the grid's order must not follow them (it did: two workers
    gave one point to two trial numbers and left others out)."""
    grid = space.grid(4)

    def points(worker_seed: int) -> list[tuple[float, float]]:
        sampler = make_sampler(
            "grid", trials=12, seed=worker_seed, workers=2, grid=grid, grid_seed=1
        )
        study = optuna.create_study(sampler=sampler)
        drawn = []
        for _ in range(12):
            width, _, sparsity = space.suggest(trial := study.ask())
            study.tell(trial, 0.0)
            drawn.append((width, sparsity))
        return drawn

    assert points(2325050962) == points(1437675665)
