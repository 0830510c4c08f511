"""The standalone ``.pfs`` loader reads what ``save_sparse`` wrote, with no prunefront import."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
import torch
from torch import nn

from prunefront import pfs_loader
from prunefront.pruning import magnitude_prune
from prunefront.spaces import load_sparse, save_sparse


def _model(pattern: str, sparsity: float) -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(40, 24), nn.ReLU(), nn.Linear(24, 8), nn.BatchNorm1d(8))
    magnitude_prune(model, sparsity, pattern=pattern)
    return model


@pytest.mark.parametrize(
    ("pattern", "fmt", "dtype", "sparsity"),
    [
        ("unstructured", "auto", "float32", 0.0),
        ("unstructured", "bitmask", "float32", 0.6),
        ("unstructured", "csr8", "float16", 0.8),
        ("unstructured", "csr16", "float32", 0.8),
        ("unstructured", "relidx4", "bfloat16", 0.95),
        ("unstructured", "relidx5", "int8", 0.9),
        ("unstructured", "auto", "int8", 0.5),
        ("2:4", "nm", "float32", 0.5),
        ("4x4", "block", "int8", 0.75),
    ],
)
def test_the_standalone_loader_gives_the_same_state_as_load_sparse(
    pattern: str, fmt: str, dtype: str, sparsity: float, tmp_path: Path
) -> None:
    path = tmp_path / "m.pfs"
    save_sparse(
        path,
        _model(pattern, sparsity),
        fmt=fmt,
        dtype=dtype,
        pattern=pattern,
        metadata={"width": 0.5},
    )
    expected = load_sparse(path).state_dict
    state, metadata = pfs_loader.read_pfs(path)
    assert metadata == {"width": 0.5}
    assert state.keys() == expected.keys()
    for name, tensor in expected.items():
        assert state[name].dtype == tensor.dtype, name
        assert torch.equal(state[name], tensor), name
    fresh = nn.Sequential(nn.Linear(40, 24), nn.ReLU(), nn.Linear(24, 8), nn.BatchNorm1d(8))
    fresh.load_state_dict(pfs_loader.load_pfs(path))


def test_the_standalone_loader_imports_only_numpy_torch_and_the_standard_library() -> None:
    tree = ast.parse(inspect.getsource(pfs_loader))
    imported = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported <= {
        "__future__",
        "json",
        "math",
        "struct",
        "zlib",
        "pathlib",
        "typing",
        "numpy",
        "torch",
        "sys",
    }
