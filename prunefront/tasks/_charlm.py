"""Built-in task ``charlm-lstm``: a 2-layer character-level LSTM language model, fully offline.

The text is the English documentation that ships with every Python (``pydoc_data.topics``), so the
task needs no download. It stands in for the paper's stacked-LSTM Penn Treebank models: the
embedding, both LSTM layers and the softmax layer are prunable, and the metric is validation
bits per character.
"""

from __future__ import annotations

import functools
import math
from collections import Counter

import torch
from torch import nn

from prunefront.tasks._base import OnStep
from prunefront.tasks._checks import positive_float, positive_int
from prunefront.tasks._loop import hold_then_cosine, init_rng, seeded, to_device, train_steps
from prunefront.tasks._loss import OnLoss
from prunefront.tasks._warm import (
    OnSnapshot,
    TrainSnapshot,
    capture_snapshot,
    check_warm_args,
    restore_snapshot,
    with_snapshot,
)
from prunefront.tasks._width import check_width, scale_channels

__all__ = ["CharLmLstm", "CharLstm", "char_corpus"]

_VALIDATION_FRACTION = 0.1
_MIN_CHAR_COUNT = 20
_BASE_HIDDEN = 256
_BASE_EMBED = 64
_EVAL_BATCH = 256


class CharLstm(nn.Module):
    """Embedding -> 2-layer LSTM -> Linear: token ids (B, T) to next-character logits (B, T, V)."""

    def __init__(self, vocab_size: int, embed_dim: int, hidden_size: int, num_layers: int = 2):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden_size, num_layers=num_layers, batch_first=True)
        self.decoder = nn.Linear(hidden_size, vocab_size)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Return next-character logits for every position of ``tokens``."""
        hidden, _ = self.lstm(self.embedding(tokens))
        logits: torch.Tensor = self.decoder(hidden)
        return logits


@functools.lru_cache(maxsize=1)
def char_corpus() -> tuple[str, torch.Tensor, torch.Tensor]:
    """Return ``(vocabulary, train_ids, validation_ids)`` of the built-in corpus, cached.

    Each ``pydoc_data.topics`` entry (in sorted key order) gives its first 90% to training and its
    last 10% to validation, so both halves cover every topic. The vocabulary is every character
    seen at least 20 times in the training half, in code-point order, at ids 1..V-1; id 0 stands
    for every other (out-of-vocabulary) character. The ids tensors are int64 and 1-D.
    """
    from pydoc_data.topics import topics

    train_parts, val_parts = [], []
    for key in sorted(topics):
        text = topics[key]
        cut = int(len(text) * (1.0 - _VALIDATION_FRACTION))
        train_parts.append(text[:cut])
        val_parts.append(text[cut:])
    train_text, val_text = "\n\n".join(train_parts), "\n\n".join(val_parts)
    counts = Counter(train_text)
    vocabulary = "".join(sorted(ch for ch, n in counts.items() if n >= _MIN_CHAR_COUNT))
    index = {ch: i + 1 for i, ch in enumerate(vocabulary)}

    def encode(text: str) -> torch.Tensor:
        return torch.tensor([index.get(ch, 0) for ch in text], dtype=torch.int64)

    return vocabulary, encode(train_text), encode(val_text)


class CharLmLstm:
    """Built-in ``charlm-lstm``: character-level LSTM LM; metric ``bits_per_char`` (minimize).

    The model maps token ids ``(batch, seq_len)`` (int64) to logits ``(batch, seq_len, vocab)``.
    At width 1.0 it has a 64-dimensional embedding and two LSTM layers of 256 units; both scale
    with the width multiplier, rounded to a multiple of ``channel_multiple``. Training takes
    ``steps`` optimizer steps, each on ``batch_size`` windows of ``seq_len + 1`` characters drawn
    at random from the training text (truncated BPTT, zero initial state). Validation runs over
    consecutive ``seq_len`` windows of the held-out text. Defaults: ``steps=300``,
    ``batch_size=32``, ``seq_len=64``, Adam with ``lr=6e-3`` and gradient-norm clipping at 1.0,
    LR held constant for 75% of training then cosine-decayed to zero: about 25-35 s at width 1.0
    on two CPU threads, reaching about 2.1 bits per character (2.7 at width 0.5, 3.4 at 0.25).

    Args:
        steps: Optimizer steps.
        batch_size: Windows per step.
        seq_len: Characters per window (the BPTT length).
        lr: Peak learning rate.
        eval_chars: Validation characters to score (at least ``seq_len``); ``None`` scores all.
        init_seed: Seed of the weight initialisation in ``build``; ``None`` (default) draws
            from the global RNG, so the training seed changes the initial weights too.
        channel_multiple: Unit counts are rounded to multiples of this; 1 disables rounding.
    """

    def __init__(
        self,
        *,
        steps: int = 300,
        batch_size: int = 32,
        seq_len: int = 64,
        lr: float = 6e-3,
        eval_chars: int | None = None,
        init_seed: int | None = None,
        channel_multiple: int = 8,
    ) -> None:
        self.steps = positive_int("steps", steps)
        self.batch_size = positive_int("batch_size", batch_size)
        self.seq_len = positive_int("seq_len", seq_len)
        if eval_chars is not None:
            positive_int("eval_chars", eval_chars, minimum=self.seq_len)
        scale_channels(8, 1.0, channel_multiple)  # validates channel_multiple
        self.name = "charlm-lstm"
        self.metric = "bits_per_char"
        self.direction = "minimize"
        self.lr = positive_float("lr", lr)
        self.eval_chars = eval_chars
        self.init_seed = init_seed
        self.channel_multiple = channel_multiple
        self.max_grad_norm = 1.0

    def __repr__(self) -> str:
        return (
            f"CharLmLstm(steps={self.steps}, batch_size={self.batch_size}, "
            f"seq_len={self.seq_len}, lr={self.lr})"
        )

    @property
    def vocabulary(self) -> str:
        """The in-vocabulary characters; character ``vocabulary[i]`` has id ``i + 1``."""
        return char_corpus()[0]

    def build(self, width: float) -> nn.Module:
        """Return a freshly initialised ``CharLstm`` at width multiplier ``width`` in (0, 1]."""
        value = check_width(width)
        embed = scale_channels(_BASE_EMBED, value, self.channel_multiple)
        hidden = scale_channels(_BASE_HIDDEN, value, self.channel_multiple)
        with init_rng(self.init_seed):
            return CharLstm(len(self.vocabulary) + 1, embed, hidden)

    def total_steps(self) -> int:
        """Return the number of optimizer steps that ``train`` will take (``steps``)."""
        return self.steps

    def _windows(self, ids: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        starts = torch.randint(
            0, len(ids) - self.seq_len, (self.batch_size, 1), generator=generator
        )
        window = ids[starts + torch.arange(self.seq_len + 1)]
        return window[:, :-1], window[:, 1:]

    def train(
        self,
        model: nn.Module,
        *,
        on_step: OnStep,
        device: torch.device | str,
        seed: int,
        resume: TrainSnapshot | None = None,
        snapshot_at: int | None = None,
        on_snapshot: OnSnapshot | None = None,
        on_loss: OnLoss | None = None,
    ) -> None:
        """Train ``model`` in place, calling ``on_step(step)`` after every optimizer step.

        Supports warm starts (``SupportsWarmStart``): ``resume`` continues from a snapshot after
        its step, bit-identical to training from scratch with the same ``seed``; ``on_snapshot``
        receives a snapshot right after ``on_step(snapshot_at)``.
        Reports the loss (``reports_loss``): ``on_loss(step, loss)`` precedes ``on_step(step)``.

        Raises:
            FloatingPointError: If the loss becomes NaN or infinite (the message names the step).
            PrunefrontError: If ``snapshot_at`` or ``resume.step`` is not a step of training.
        """
        check_warm_args(self.steps, resume, snapshot_at)
        dev = torch.device(device)
        train_ids = char_corpus()[1]
        model.to(dev)
        model.train()
        optimizer = torch.optim.Adam(model.parameters(), lr=self.lr)
        scheduler = hold_then_cosine(optimizer, self.steps)
        # Each step draws its windows from this generator, so its state is the data order.
        generator = torch.Generator().manual_seed(seed)

        def take(step: int) -> TrainSnapshot:
            return capture_snapshot(
                step,
                model=model,
                optimizer=optimizer,
                scheduler=scheduler,
                device=dev,
                data_state={"generator": generator.get_state()},
            )

        step_fn = with_snapshot(
            on_step, snapshot_at=snapshot_at, on_snapshot=on_snapshot, take=take
        )
        with seeded(seed, dev):
            first = 0
            if resume is not None:
                restore_snapshot(
                    resume, model=model, optimizer=optimizer, scheduler=scheduler, device=dev
                )
                generator.set_state(resume.data_state["generator"])
                first = resume.step + 1
            batches = (
                to_device(self._windows(train_ids, generator), dev)
                for _ in range(first, self.steps)
            )
            train_steps(
                model,
                batches,
                loss_fn=_loss,
                optimizer=optimizer,
                scheduler=scheduler,
                on_step=step_fn,
                max_grad_norm=self.max_grad_norm,
                first_step=first,
                on_loss=on_loss,
            )

    @torch.no_grad()
    def evaluate(self, model: nn.Module, *, device: torch.device | str) -> float:
        """Return bits per character on the validation text."""
        dev = torch.device(device)
        ids = char_corpus()[2]
        if self.eval_chars is not None:
            ids = ids[: self.eval_chars + 1]
        windows = (len(ids) - 1) // self.seq_len
        used = windows * self.seq_len
        inputs = ids[:used].view(windows, self.seq_len)
        targets = ids[1 : used + 1].view(windows, self.seq_len)
        was_training = model.training
        model.to(dev)
        model.eval()
        total_nats = 0.0
        try:
            for start in range(0, windows, _EVAL_BATCH):
                batch = to_device(
                    (inputs[start : start + _EVAL_BATCH], targets[start : start + _EVAL_BATCH]),
                    dev,
                )
                total_nats += float(_loss(model, batch, reduction="sum"))
        finally:
            model.train(was_training)
        return total_nats / used / math.log(2)

    def example_inputs(self, batch_size: int) -> tuple[torch.Tensor, ...]:
        """Return validation-text token ids of shape ``(batch_size, seq_len)`` (int64)."""
        positive_int("batch_size", batch_size)
        ids = char_corpus()[2]
        windows = (len(ids) - 1) // self.seq_len
        rows = [(i % windows) * self.seq_len for i in range(batch_size)]
        return (torch.stack([ids[r : r + self.seq_len] for r in rows]),)


def _loss(
    model: nn.Module, batch: tuple[torch.Tensor, ...], reduction: str = "mean"
) -> torch.Tensor:
    inputs, targets = batch
    logits = model(inputs)
    return nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction=reduction
    )
