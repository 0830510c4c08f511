"""charlm-transformer: attention weights prune, the pruned model profiles and exports to ONNX."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from prunefront.export import compare_onnx, export_onnx
from prunefront.profilers import LatencySettings, ProfileSettings, profile_candidate
from prunefront.pruning import find_prunable, magnitude_prune
from prunefront.tasks import CharLmTransformer

FAST = ProfileSettings(latency=LatencySettings(min_time_s=0.0, max_time_s=1.0, min_sample_ms=0.5))


def _task() -> CharLmTransformer:
    return CharLmTransformer(steps=4, batch_size=4, seq_len=16, eval_chars=256)


def test_width_scales_d_model_and_the_feed_forward() -> None:
    task = _task()
    full, half = task.build(1.0), task.build(0.5)
    assert full.blocks[0].attn.embed_dim == 128 and half.blocks[0].attn.embed_dim == 64
    assert full.blocks[0].ffn[0].out_features == 512 and half.blocks[0].ffn[0].out_features == 256


def test_attention_and_feed_forward_weights_are_prunable() -> None:
    names = {t.name for t in find_prunable(_task().build(0.5))}
    for block in ("blocks.0", "blocks.1"):
        assert f"{block}.attn.in_proj_weight" in names
        assert f"{block}.attn.out_proj.weight" in names
        assert {f"{block}.ffn.0.weight", f"{block}.ffn.2.weight"} <= names
    assert {"embedding.weight", "decoder.weight"} <= names


def test_a_90_percent_pruned_transformer_profiles_and_exports_verified(tmp_path: Path) -> None:
    task = _task()
    model = task.build(0.5)
    magnitude_prune(model, 0.9)
    weight = model.blocks[0].attn.in_proj_weight
    assert float((weight == 0).float().mean()) == pytest.approx(0.9, abs=1e-3)
    inputs = task.example_inputs(2)
    result = profile_candidate(
        model, inputs, strategies=("masked_dense", "csr"), settings=FAST, energy="off"
    )
    outcomes = {s.name: s for s in result.strategies}
    assert outcomes["masked_dense"].matches_reference is True
    assert outcomes["csr"].matches_reference is True
    exported = export_onnx(model, inputs, tmp_path / "model.onnx")
    check = compare_onnx(exported.path, model, inputs)
    assert check.matches, check.reason


def test_training_lowers_bits_per_char() -> None:
    task = CharLmTransformer(steps=30, batch_size=8, seq_len=32, eval_chars=2048)
    model = task.build(0.25)
    before = task.evaluate(model, device="cpu")
    task.train(model, on_step=lambda step: None, device="cpu", seed=0)
    assert task.evaluate(model, device="cpu") < before - 1.0
    assert torch.isfinite(model.decoder.weight).all()


@pytest.mark.slow  # a 3-trial search of a transformer, its report and a verified export
def test_charlm_transformer_searches_reports_selects_and_exports_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from prunefront.cli import main

    def run(args: list[str]) -> str:
        with pytest.raises(SystemExit) as exit_info:
            main(args)
        out, err = capsys.readouterr()
        assert exit_info.value.code == 0, err
        return out

    monkeypatch.chdir(tmp_path)
    (tmp_path / "search.toml").write_text(
        '[task]\nref = "charlm-transformer"\n'
        "options = { steps = 6, batch_size = 4, seq_len = 16, eval_chars = 256 }\n"
        "[space]\nwidths = [0.25, 0.5]\nsparsity_max = 0.95\niso_levels = 1\n"
        "[budget]\nbytes = 150000\n"
        "[target]\nlatency_min_time_s = 0.02\nlatency_max_time_s = 0.3\n"
        '[search]\ntrials = 3\npair_seeds = 1\nrun_dir = "run"\n'
    )
    run(["search", "search.toml"])
    run(["report", "--run", "run", "--out", "report"])
    assert (tmp_path / "report" / "report.html").is_file()
    card = json.loads(run(["select", "--run", "run", "--out", "card", "--json"]))
    assert isinstance(card["chosen"], int)
    args = ["export", "--run", "run", "--trial", str(card["chosen"]), "--format", "onnx"]
    exported = json.loads(run([*args, "--out", "model.onnx", "--json"]))
    assert exported["ok"] is True
    assert (tmp_path / "model.onnx").is_file()
