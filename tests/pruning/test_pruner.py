"""GradualPruner: pruned weights stay exactly zero under every optimizer, for every layer type."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from prunefront.errors import PrunefrontError
from prunefront.pruning import (
    GradualPruner,
    PolynomialDecay,
    find_prunable,
    magnitude_prune,
    sparsity_summary,
    strip,
)


class EveryLayer(nn.Module):
    """Embedding -> Conv1d -> LSTM -> GRU -> Linear: one of each prunable kind."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(32, 16)
        self.conv = nn.Conv1d(16, 16, 3, padding=1)
        self.lstm = nn.LSTM(16, 24, num_layers=2, batch_first=True)
        self.gru = nn.GRU(24, 16, batch_first=True)
        self.norm = nn.LayerNorm(16)
        self.head = nn.Linear(16, 32)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.embed(tokens)
        x = self.conv(x.transpose(1, 2)).transpose(1, 2)
        x, _ = self.lstm(x)
        x, _ = self.gru(x)
        return self.head(self.norm(x))


OPTIMIZERS: dict[str, Callable[[list[nn.Parameter]], torch.optim.Optimizer]] = {
    "sgd_momentum": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
    "adam": lambda p: torch.optim.Adam(p, lr=1e-2),
    "adamw": lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.1),
}


def train_pruned(
    optimizer_name: str, sparsity: float, pattern: str = "unstructured"
) -> GradualPruner:
    torch.manual_seed(0)
    model = EveryLayer()
    schedule = PolynomialDecay(final_sparsity=sparsity, begin_step=5, end_step=25, frequency=4)
    pruner = GradualPruner(model, schedule, pattern=pattern)
    optimizer = OPTIMIZERS[optimizer_name](list(model.parameters()))
    previous_zero: dict[str, torch.Tensor] = {}
    for step in range(40):
        tokens = torch.randint(0, 32, (8, 12))
        loss = nn.functional.cross_entropy(model(tokens).reshape(-1, 32), tokens.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        pruner.on_step(step)
        for target in pruner.targets:
            zero = target.param.detach() == 0
            mask = pruner.masks.get(target.name)
            if mask is not None:
                # every masked weight is exactly zero after every step
                assert bool(zero[~mask].all()), (optimizer_name, step, target.name)
            if target.name in previous_zero and mask is not None:
                # a pruned weight never comes back within the schedule
                assert bool((~mask)[previous_zero[target.name]].all())
            if mask is not None:
                previous_zero[target.name] = ~mask
    return pruner


@pytest.mark.parametrize("optimizer_name", sorted(OPTIMIZERS))
def test_pruned_weights_stay_exactly_zero_through_training(optimizer_name: str) -> None:
    pruner = train_pruned(optimizer_name, 0.8)
    for layer in pruner.summary():
        assert layer.numel - layer.nonzero == round(0.8 * layer.numel), layer.name


def test_every_prunable_kind_is_pruned_and_biases_and_norms_stay_dense() -> None:
    pruner = train_pruned("adam", 0.7)
    names = {t.name for t in pruner.targets}
    assert names == {
        "embed.weight",
        "conv.weight",
        "lstm.weight_ih_l0",
        "lstm.weight_hh_l0",
        "lstm.weight_ih_l1",
        "lstm.weight_hh_l1",
        "gru.weight_ih_l0",
        "gru.weight_hh_l0",
        "head.weight",
    }
    model = pruner.model
    assert isinstance(model, EveryLayer)
    assert int(
        torch.count_nonzero(model.lstm.weight_hh_l1)
    ) == model.lstm.weight_hh_l1.numel() - round(0.7 * model.lstm.weight_hh_l1.numel())
    assert bool((model.lstm.bias_hh_l0 != 0).all())
    assert bool((model.norm.weight != 0).all())


def test_masks_change_only_on_pruning_steps() -> None:
    torch.manual_seed(0)
    model = nn.Linear(64, 64)
    schedule = PolynomialDecay(final_sparsity=0.9, begin_step=2, end_step=12, frequency=5)
    pruner = GradualPruner(model, schedule)
    changed_at = []
    for step in range(20):
        before = {k: v.clone() for k, v in pruner.masks.items()}
        pruner.on_step(step)
        after = pruner.masks
        if (before != {} and any(not torch.equal(before[k], after[k]) for k in after)) or (
            before == {} and after and not all(bool(m.all()) for m in after.values())
        ):
            changed_at.append(step)
    assert changed_at == [7, 12]  # step 2 is a pruning step at 0 %: nothing pruned yet
    assert pruner.summary()[0].sparsity == pytest.approx(0.9, abs=1 / 4096)


def test_two_four_pattern_through_training_holds_in_every_group() -> None:
    pruner = train_pruned("sgd_momentum", 0.5, pattern="2:4")
    head = pruner.model.head.weight.detach()  # type: ignore[union-attr]
    assert int((head.reshape(32, -1, 4) != 0).sum(dim=2).max()) <= 2


def test_exclude_by_name_pattern_leaves_layers_dense() -> None:
    model = EveryLayer()
    schedule = PolynomialDecay(final_sparsity=0.5, end_step=0)
    pruner = GradualPruner(model, schedule, exclude=["embed", "lstm.weight_hh_*"])
    pruner.on_step(0)
    names = {t.name for t in pruner.targets}
    assert "embed.weight" not in names
    assert "lstm.weight_hh_l0" not in names and "lstm.weight_ih_l0" in names
    assert int(torch.count_nonzero(model.embed.weight)) == model.embed.weight.numel()


def test_global_scope_reaches_total_sparsity_across_layers() -> None:
    model = EveryLayer()
    magnitude_prune(model, 0.6, scope="global")
    layers = sparsity_summary(model)
    total = sum(layer.numel for layer in layers)
    zeros = sum(layer.numel - layer.nonzero for layer in layers)
    assert zeros == round(0.6 * total)
    assert len({round(layer.sparsity, 2) for layer in layers}) > 1


def test_strip_leaves_an_ordinary_module_with_the_zeros() -> None:
    model = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 4))
    pruner = GradualPruner(model, PolynomialDecay(final_sparsity=0.75, end_step=0))
    pruner.on_step(0)
    plain = pruner.strip()
    assert pruner.masks == {}
    assert sorted(n for n, _ in plain.named_parameters()) == [
        "0.bias",
        "0.weight",
        "2.bias",
        "2.weight",
    ]
    assert int(torch.count_nonzero(plain[0].weight)) == 64
    assert not plain._forward_pre_hooks and not plain[0]._forward_pre_hooks


def test_strip_folds_torch_prune_reparametrisation() -> None:
    from torch.nn.utils import prune

    model = nn.Sequential(nn.Linear(8, 8))
    prune.l1_unstructured(model[0], "weight", amount=0.5)
    strip(model)
    assert sorted(n for n, _ in model.named_parameters()) == ["0.bias", "0.weight"]
    assert int(torch.count_nonzero(model[0].weight)) == 32


def test_pattern_needing_higher_sparsity_is_refused() -> None:
    with pytest.raises(PrunefrontError, match="2:4"):
        GradualPruner(
            nn.Linear(8, 8), PolynomialDecay(final_sparsity=0.3, end_step=5), pattern="2:4"
        )
    with pytest.raises(PrunefrontError, match="global"):
        magnitude_prune(nn.Linear(8, 8), 0.5, pattern="4x4", scope="global")


def test_model_without_prunable_weights_is_refused() -> None:
    with pytest.raises(PrunefrontError, match="no prunable"):
        GradualPruner(nn.LayerNorm(4), PolynomialDecay(final_sparsity=0.5, end_step=5))


def test_find_prunable_skips_biases_and_norms() -> None:
    names = [t.name for t in find_prunable(nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4)))]
    assert names == ["0.weight"]
