"""The built-in tasks' own promises: offline data, fixed vocabulary, defaults that train well."""

from __future__ import annotations

import pickle
import random
import time

import numpy as np
import pytest
import torch

from prunefront.errors import PrunefrontError
from prunefront.tasks import CharLmLstm, Mnist1dCnn
from prunefront.tasks._charlm import char_corpus
from prunefront.tasks._mnist1d import mnist1d_arrays


def test_mnist1d_generation_is_cached_and_restores_the_global_rngs() -> None:
    random.seed(5)
    np.random.seed(5)
    expected = (random.random(), np.random.rand())
    random.seed(5)
    np.random.seed(5)
    x_train, y_train, x_test, _ = mnist1d_arrays(num_samples=120, seed=9)
    assert (random.random(), np.random.rand()) == expected
    assert x_train.shape == (96, 40) and x_test.shape == (24, 40)
    assert set(np.unique(y_train)) <= set(range(10))
    assert mnist1d_arrays(num_samples=120, seed=9)[0] is x_train
    assert not x_train.flags.writeable


def test_mnist1d_total_steps_matches_the_generated_training_set() -> None:
    task = Mnist1dCnn(epochs=2, batch_size=32, num_samples=150)
    num_train = len(mnist1d_arrays(num_samples=150, seed=42)[0])
    assert num_train == 120
    assert task.total_steps() == 2 * 4


def test_charlm_vocabulary_is_fixed_and_maps_rare_characters_to_id_zero() -> None:
    vocabulary, train_ids, val_ids = char_corpus()
    assert len(set(vocabulary)) == len(vocabulary) == len(CharLmLstm().vocabulary)
    assert list(vocabulary) == sorted(vocabulary)
    assert "e" in vocabulary and "\n" in vocabulary
    assert train_ids.dtype == torch.int64 and val_ids.dtype == torch.int64
    assert int(train_ids.max()) == len(vocabulary)
    assert 0 < (train_ids == 0).float().mean() < 0.01  # rare characters exist, and are rare
    assert 0.08 < len(val_ids) / (len(train_ids) + len(val_ids)) < 0.12


def test_charlm_example_inputs_are_validation_token_ids() -> None:
    task = CharLmLstm(seq_len=20)
    (ids,) = task.example_inputs(4)
    assert ids.shape == (4, 20) and ids.dtype == torch.int64
    assert int(ids.min()) >= 0 and int(ids.max()) <= len(task.vocabulary)
    assert torch.equal(ids[0], char_corpus()[2][:20])


def test_builtins_survive_pickling_for_worker_processes() -> None:
    mnist = Mnist1dCnn(epochs=1, num_samples=100)
    mnist.evaluate(mnist.build(0.25), device="cpu")  # builds the inner task and its data
    for task in (mnist, CharLmLstm(steps=2, seq_len=8, eval_chars=64)):
        copy = pickle.loads(pickle.dumps(task))
        assert copy.total_steps() == task.total_steps()
        model = copy.build(0.25)
        assert copy.evaluate(model, device="cpu") == task.evaluate(model, device="cpu")


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: Mnist1dCnn(epochs=0), r"epochs must be an integer >= 1, got 0"),
        (lambda: Mnist1dCnn(lr=0.0), r"lr must be > 0, got 0.0"),
        (lambda: Mnist1dCnn(num_samples=5), r"num_samples must be an integer >= 20, got 5"),
        (lambda: Mnist1dCnn(channel_multiple=0), r"channel_multiple must be .* got 0"),
        (lambda: CharLmLstm(steps=-1), r"steps must be an integer >= 1, got -1"),
        (lambda: CharLmLstm(seq_len=0), r"seq_len must be an integer >= 1, got 0"),
        (lambda: CharLmLstm(eval_chars=10), r"eval_chars must be an integer >= 64, got 10"),
        (lambda: CharLmLstm(lr=float("nan")), r"lr must be > 0, got nan"),
    ],
)
def test_builtin_options_are_validated_at_construction(factory: object, message: str) -> None:
    with pytest.raises(PrunefrontError, match=message):
        factory()  # type: ignore[operator]


def _train_default(task: Mnist1dCnn | CharLmLstm, width: float) -> tuple[float, float]:
    torch.set_num_threads(2)  # the budget is "under a minute on two cores"; conftest restores it
    model = task.build(width)
    start = time.perf_counter()
    task.train(model, on_step=lambda step: None, device="cpu", seed=0)
    seconds = time.perf_counter() - start
    return task.evaluate(model, device="cpu"), seconds


@pytest.mark.slow
def test_mnist1d_defaults_train_well_in_under_a_minute_and_width_matters() -> None:
    task = Mnist1dCnn()
    mnist1d_arrays()  # data generation is a one-off per process, not training time
    accuracy_full, seconds = _train_default(task, 1.0)
    accuracy_quarter, _ = _train_default(task, 0.25)
    assert seconds < 60
    assert accuracy_full > 0.95
    assert accuracy_quarter < accuracy_full - 0.03


@pytest.mark.slow
def test_charlm_defaults_train_well_in_under_a_minute_and_width_matters() -> None:
    task = CharLmLstm()
    bpc_full, seconds = _train_default(task, 1.0)
    bpc_quarter, _ = _train_default(task, 0.25)
    assert seconds < 60
    assert bpc_full < 2.25
    assert bpc_quarter > bpc_full + 0.3
