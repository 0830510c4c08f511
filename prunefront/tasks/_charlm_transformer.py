"""Built-in task ``charlm-transformer``: a small pre-LN decoder-only character LM, fully offline.

It reads the same text as ``charlm-lstm`` (Python's own documentation) with the same windows,
metric (validation bits per character) and warm starts, so the two are directly comparable. The
width multiplier scales ``d_model`` and the feed-forward width together; the attention input
projection (``in_proj_weight``, a bare Parameter of ``nn.MultiheadAttention``), its output
projection, both feed-forward layers, the token embedding and the softmax layer are prunable.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from prunefront.errors import PrunefrontError
from prunefront.tasks._charlm import CharLmLstm
from prunefront.tasks._checks import positive_int
from prunefront.tasks._loop import init_rng
from prunefront.tasks._width import check_width, scale_channels

__all__ = ["CharLmTransformer", "CharTransformer"]

_BASE_D_MODEL = 128
_FFN_RATIO = 4


class DecoderBlock(nn.Module):
    """Pre-LN block: ``x + attn(ln(x))`` with a causal mask, then ``x + ffn(ln(x))``."""

    def __init__(self, d_model: int, heads: int, ffn: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attn = nn.MultiheadAttention(d_model, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(d_model)
        self.ffn = nn.Sequential(nn.Linear(d_model, ffn), nn.GELU(), nn.Linear(ffn, d_model))

    def forward(self, x: torch.Tensor, causal: torch.Tensor) -> torch.Tensor:
        """Apply the block to ``x`` of shape ``(batch, time, d_model)``."""
        h = self.norm1(x)
        attended, _ = self.attn(h, h, h, attn_mask=causal, need_weights=False)
        x = x + attended
        out: torch.Tensor = x + self.ffn(self.norm2(x))
        return out


class CharTransformer(nn.Module):
    """Token + learned position embedding -> pre-LN decoder blocks -> LayerNorm -> Linear.

    Maps token ids ``(batch, time)`` with ``time <= max_len`` to next-character logits
    ``(batch, time, vocab)``; position ``t`` attends to positions ``<= t`` only.
    """

    def __init__(
        self, vocab_size: int, d_model: int, heads: int, ffn: int, layers: int, max_len: int
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.position = nn.Parameter(torch.randn(1, max_len, d_model) * 0.02)
        self.blocks = nn.ModuleList(DecoderBlock(d_model, heads, ffn) for _ in range(layers))
        self.norm = nn.LayerNorm(d_model)
        self.decoder = nn.Linear(d_model, vocab_size)
        mask = torch.ones(max_len, max_len, dtype=torch.bool).triu(diagonal=1)
        self.causal: torch.Tensor
        self.register_buffer("causal", mask, persistent=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Return next-character logits for every position of ``tokens``."""
        steps = tokens.shape[1]
        x = self.embedding(tokens) + self.position[:, :steps]
        causal = self.causal[:steps, :steps]
        for block in self.blocks:
            x = block(x, causal)
        logits: torch.Tensor = self.decoder(self.norm(x))
        return logits


class CharLmTransformer(CharLmLstm):
    """Built-in ``charlm-transformer``: character-level decoder LM; ``bits_per_char`` (minimize).

    At width 1.0: ``d_model`` 128, 4 heads, feed-forward 512, 2 blocks; ``d_model`` and the
    feed-forward width scale with the width multiplier (rounded to ``channel_multiple``, and
    ``d_model`` to a multiple of the head count). Data, windows, evaluation and warm starts are
    ``charlm-lstm``'s. Defaults: ``steps=400``, ``batch_size=32``, ``seq_len=64``, Adam with
    ``lr=2e-3``, gradient clipping at 1.0, LR held for 75 % of training then cosine-decayed.
    Sized for about a minute at width 1.0 on two CPU threads (a training step took 0.08-0.1 s
    there); on a loaded machine it takes several times longer.

    Args:
        steps: Optimizer steps.
        batch_size: Windows per step.
        seq_len: Characters per window (also the model's maximum context).
        lr: Peak learning rate.
        eval_chars: Validation characters to score (at least ``seq_len``); ``None`` scores all.
        init_seed: Seed of the weight initialisation in ``build``; ``None`` (default) draws
            from the global RNG, so the training seed changes the initial weights too.
        channel_multiple: Widths are rounded to multiples of this; 1 disables rounding.
        heads: Attention heads (at every width).
        layers: Decoder blocks.
    """

    def __init__(
        self,
        *,
        steps: int = 400,
        batch_size: int = 32,
        seq_len: int = 64,
        lr: float = 2e-3,
        eval_chars: int | None = None,
        init_seed: int | None = None,
        channel_multiple: int = 8,
        heads: int = 4,
        layers: int = 2,
    ) -> None:
        super().__init__(
            steps=steps,
            batch_size=batch_size,
            seq_len=seq_len,
            lr=lr,
            eval_chars=eval_chars,
            init_seed=init_seed,
            channel_multiple=channel_multiple,
        )
        self.name = "charlm-transformer"
        self.heads = positive_int("heads", heads)
        self.layers = positive_int("layers", layers)
        if _BASE_D_MODEL % self.heads:
            raise PrunefrontError(f"heads = {heads}: must divide d_model {_BASE_D_MODEL}")

    def __repr__(self) -> str:
        return (
            f"CharLmTransformer(steps={self.steps}, batch_size={self.batch_size}, "
            f"seq_len={self.seq_len}, lr={self.lr}, heads={self.heads}, layers={self.layers})"
        )

    def build(self, width: float) -> nn.Module:
        """Return a freshly initialised ``CharTransformer`` at width multiplier ``width``."""
        value = check_width(width)
        multiple = math.lcm(self.channel_multiple, self.heads)
        d_model = scale_channels(_BASE_D_MODEL, value, multiple)
        ffn = scale_channels(_BASE_D_MODEL * _FFN_RATIO, value, self.channel_multiple)
        with init_rng(self.init_seed):
            return CharTransformer(
                len(self.vocabulary) + 1, d_model, self.heads, ffn, self.layers, self.seq_len
            )
