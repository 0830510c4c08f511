"""The sparse weight file: exact round trips, size on disk = footprint + header, safe failures."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import nn

from prunefront.errors import PrunefrontError
from prunefront.pruning._masks import magnitude_mask
from prunefront.pruning._patterns import parse_pattern
from prunefront.pruning._targets import find_prunable
from prunefront.spaces import load_sparse, model_footprint, save_sparse


@pytest.fixture(autouse=True)
def _few_threads() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _mlp(inputs: int = 160) -> nn.Sequential:
    """29,514 parameters at the default size."""
    return nn.Sequential(
        nn.Linear(inputs, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)
    )


def _pruned(model: nn.Module, sparsity: float, pattern: str = "unstructured") -> nn.Module:
    torch.manual_seed(0)
    for param in model.parameters():
        nn.init.normal_(param)
    parsed = parse_pattern(pattern)
    with torch.no_grad():
        for target in find_prunable(model):
            target.param.mul_(magnitude_mask(target.param, sparsity, parsed))
    return model


def _assert_bit_identical(original: nn.Module, loaded: dict[str, torch.Tensor]) -> None:
    expected = original.state_dict()
    assert loaded.keys() == expected.keys()
    for name, tensor in expected.items():
        restored = loaded[name]
        assert restored.dtype == tensor.dtype and restored.shape == tensor.shape, name
        assert torch.equal(restored == 0, tensor == 0), name
        if tensor.is_floating_point():
            nonzero = tensor != 0
            if tensor.dtype == torch.float32:  # compare the bit patterns, not just the values
                tensor, restored = tensor.view(torch.int32), restored.view(torch.int32)
            assert torch.equal(restored[nonzero], tensor[nonzero]), name
        else:
            assert torch.equal(restored, tensor), name


CASES = [
    ("dense", "unstructured", 0.9),
    ("bitmask", "unstructured", 0.9),
    ("csr8", "unstructured", 0.9),  # 160 columns fit 8 bits
    ("csr16", "unstructured", 0.75),
    ("csr32", "unstructured", 0.75),
    ("relidx1", "unstructured", 0.5),
    ("relidx4", "unstructured", 0.95),
    ("relidx5", "unstructured", 0.9),
    ("relidx8", "unstructured", 0.99),
    ("relidx16", "unstructured", 0.99),
    ("auto", "unstructured", 0.9),
    ("nm", "2:4", 0.5),
    ("nm", "2:4", 0.8),
    ("nm", "3:8", 0.7),
    ("block", "4x4", 0.75),
    ("block", "3x5", 0.6),  # ragged edge blocks
    ("auto", "1x8", 0.9),
]


@pytest.mark.parametrize(("fmt", "pattern", "sparsity"), CASES)
def test_float32_round_trip_is_bit_identical(
    tmp_path: Path, fmt: str, pattern: str, sparsity: float
) -> None:
    model = _pruned(_mlp(inputs=30), sparsity, pattern)  # 30 columns: ragged N:M groups
    path = tmp_path / "model.pfs"
    save_sparse(path, model, fmt=fmt, pattern=pattern)
    checkpoint = load_sparse(path)
    _assert_bit_identical(model, checkpoint.state_dict)
    fresh = _mlp(inputs=30)
    fresh.load_state_dict(checkpoint.state_dict)
    inputs = torch.randn(4, 30)
    assert torch.equal(fresh(inputs), model(inputs))
    if fmt != "auto":
        assert (
            checkpoint.formats["0.weight"]
            == model_footprint(model, fmt=fmt, pattern=pattern).tensors[0].format
        )


@pytest.mark.parametrize("sparsity", [0.5, 0.75, 0.9, 0.95])
@pytest.mark.parametrize(
    "fmt", ["dense", "bitmask", "csr8", "csr16", "csr32", "relidx4", "relidx5", "relidx8", "auto"]
)
def test_file_size_is_the_footprint_plus_the_header(
    tmp_path: Path, fmt: str, sparsity: float
) -> None:
    model = _pruned(_mlp(), sparsity)
    path = tmp_path / "model.pfs"
    written = save_sparse(path, model, fmt=fmt)
    predicted = model_footprint(model, fmt=fmt).footprint_bytes
    checkpoint = load_sparse(path)
    assert written == path.stat().st_size == checkpoint.file_bytes
    assert written - checkpoint.header_bytes == predicted
    assert written / predicted <= 1.05


@pytest.mark.parametrize(
    ("pattern", "fmt", "dtype", "sparsity"),
    [
        ("2:4", "nm", "float32", 0.5),
        ("2:4", "nm", "float16", 0.5),
        ("4x4", "block", "float32", 0.9),
        ("unstructured", "auto", "float16", 0.9),
        ("unstructured", "auto", "bfloat16", 0.95),
        ("unstructured", "auto", "int8", 0.5),
        ("unstructured", "auto", "int8", 0.9),
    ],
)
def test_file_size_is_within_five_percent_of_the_prediction_for_other_patterns_and_dtypes(
    tmp_path: Path, pattern: str, fmt: str, dtype: str, sparsity: float
) -> None:
    model = _pruned(_mlp(), sparsity, pattern)
    path = tmp_path / "model.pfs"
    written = save_sparse(path, model, fmt=fmt, dtype=dtype, pattern=pattern)
    predicted = model_footprint(model, fmt=fmt, dtype=dtype, pattern=pattern).footprint_bytes
    assert written - load_sparse(path).header_bytes == predicted
    assert written / predicted <= 1.05


@pytest.mark.parametrize(("dtype", "rel"), [("float16", 2**-11), ("bfloat16", 2**-8)])
def test_half_precision_round_trip_is_within_dtype_precision(
    tmp_path: Path, dtype: str, rel: float
) -> None:
    model = _pruned(_mlp(), 0.8)
    save_sparse(tmp_path / "m.pfs", model, dtype=dtype)
    loaded = load_sparse(tmp_path / "m.pfs")
    assert loaded.dtype == dtype
    for name, tensor in model.state_dict().items():
        restored = loaded.state_dict[name]
        assert restored.dtype == torch.float32
        assert torch.equal(restored[tensor == 0], tensor[tensor == 0])
        assert torch.allclose(restored, tensor, rtol=rel, atol=0.0), name


def test_int8_round_trip_is_within_half_a_quantisation_step_of_each_channel(
    tmp_path: Path,
) -> None:
    model = _pruned(_mlp(), 0.75)
    save_sparse(tmp_path / "m.pfs", model, dtype="int8", fmt="bitmask")
    loaded = load_sparse(tmp_path / "m.pfs").state_dict
    for name, tensor in model.state_dict().items():
        rows = tensor.reshape(tensor.shape[0], -1) if tensor.dim() >= 2 else tensor.reshape(1, -1)
        step = rows.abs().amax(dim=1, keepdim=True) / 127  # per output channel
        error = (loaded[name].reshape(rows.shape) - rows).abs()
        assert bool(torch.all(error <= step / 2 + 1e-7)), name
        assert bool(torch.all(loaded[name][tensor == 0] == 0)), name


def test_buffers_tied_weights_and_metadata_survive(tmp_path: Path) -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(40, 16)
            self.norm = nn.BatchNorm1d(16)
            self.out = nn.Linear(16, 40)
            self.out.weight = self.embed.weight

    model = Net()
    model.norm(torch.randn(8, 16))  # non-trivial running statistics
    _pruned(model, 0.7)
    save_sparse(tmp_path / "n.pfs", model, metadata={"width": 0.5, "note": "ok"})
    loaded = load_sparse(tmp_path / "n.pfs")
    assert loaded.metadata == {"width": 0.5, "note": "ok"}
    assert loaded.formats["norm.num_batches_tracked"] == "raw"
    assert loaded.state_dict["out.weight"] is loaded.state_dict["embed.weight"]
    fresh = Net()
    fresh.load_state_dict(loaded.state_dict)  # strict: every key present
    _assert_bit_identical(model, loaded.state_dict)


def test_corrupt_payload_is_reported_with_the_path(tmp_path: Path) -> None:
    path = tmp_path / "m.pfs"
    save_sparse(path, _pruned(_mlp(), 0.9))
    blob = bytearray(path.read_bytes())
    blob[-100] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(PrunefrontError, match="checksum") as info:
        load_sparse(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda b: b"NOTSPARSE" + b[9:], "wrong magic"),
        (lambda b: b[:-10], "truncated"),
        (lambda b: b[:30], "truncated header|damaged header"),
        (lambda b: b"", "wrong magic"),
        (lambda b: b[:14] + b"x" * 20 + b[34:], "damaged header"),
    ],
)
def test_damaged_files_raise_one_line_errors_naming_the_path(
    tmp_path: Path, damage: object, reason: str
) -> None:
    path = tmp_path / "m.pfs"
    save_sparse(path, _pruned(_mlp(), 0.9))
    path.write_bytes(damage(path.read_bytes()))  # type: ignore[operator]
    with pytest.raises(PrunefrontError, match=reason) as info:
        load_sparse(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_missing_file_is_reported_with_the_path(tmp_path: Path) -> None:
    with pytest.raises(PrunefrontError, match=r"cannot read .*nothing\.pfs"):
        load_sparse(tmp_path / "nothing.pfs")


def test_failed_save_leaves_no_file_and_keeps_the_old_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.pfs"
    model = _pruned(_mlp(), 0.9)
    with pytest.raises(PrunefrontError, match="not JSON-serialisable"):
        save_sparse(path, model, metadata={"bad": object()})
    assert list(tmp_path.iterdir()) == []

    save_sparse(path, model)
    original = path.read_bytes()

    def fail(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(PrunefrontError, match=r"cannot write .*No space left"):
        save_sparse(path, _pruned(_mlp(), 0.5))
    assert list(tmp_path.iterdir()) == [path]
    assert path.read_bytes() == original


def test_save_into_a_missing_directory_is_a_prunefront_error(tmp_path: Path) -> None:
    with pytest.raises(PrunefrontError, match="cannot write"):
        save_sparse(tmp_path / "absent" / "m.pfs", _mlp())


def test_paper_accounting_cannot_be_written(tmp_path: Path) -> None:
    with pytest.raises(PrunefrontError, match="idealised accounting"):
        save_sparse(tmp_path / "m.pfs", _mlp(), fmt="paper")
    assert list(tmp_path.iterdir()) == []


def test_bad_format_dtype_and_pattern_combinations_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(PrunefrontError, match="unknown storage format"):
        save_sparse(tmp_path / "m.pfs", _mlp(), fmt="zip")
    with pytest.raises(PrunefrontError, match="unknown dtype"):
        save_sparse(tmp_path / "m.pfs", _mlp(), dtype="float64")
    with pytest.raises(PrunefrontError, match="needs an N:M pattern"):
        save_sparse(tmp_path / "m.pfs", _mlp(), fmt="nm")
    with torch.device("meta"):
        meta = _mlp()
    with pytest.raises(PrunefrontError, match="meta device"):
        save_sparse(tmp_path / "m.pfs", meta)
    assert list(tmp_path.iterdir()) == []
