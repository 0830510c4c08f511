"""Storage-format sizes: hand-computed tiny tensors, analytic vs exact, applicability, auto."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from prunefront.errors import PrunefrontError
from prunefront.pruning._masks import magnitude_mask
from prunefront.pruning._patterns import parse_pattern
from prunefront.spaces import parse_dtype, parse_format, tensor_bytes, tensor_bytes_from_mask

# 2 x 8, nonzeros at flat positions 0, 7 and 15: zero runs before them 0, 6, 7.
TINY = np.array(
    [[1, 0, 0, 0, 0, 0, 0, 2], [0, 0, 0, 0, 0, 0, 0, 3]],
    dtype=np.float32,
)


@pytest.mark.parametrize(
    ("fmt", "dtype", "pattern", "expected"),
    [
        ("dense", "float32", "unstructured", 16 * 4),
        ("dense", "int8", "unstructured", 16 + 2 * 4),  # + a float32 scale per row
        ("bitmask", "float32", "unstructured", 2 + 3 * 4),
        ("bitmask", "float16", "unstructured", 2 + 3 * 2),
        ("bitmask", "int8", "unstructured", 2 + 3 + 2 * 4),
        ("csr8", "float32", "unstructured", 3 * 4 + 3 * 1 + 3 * 4),
        ("csr", "float32", "unstructured", 3 * 4 + 3 * 2 + 3 * 4),
        ("csr32", "bfloat16", "unstructured", 3 * 2 + 3 * 4 + 3 * 4),
        ("relidx2", "float32", "unstructured", 5 * 4 + 2),  # runs 6 and 7 need one filler each
        ("relidx", "float32", "unstructured", 3 * 4 + 2),  # 3 entries x 4 bits = 12 bits
        ("relidx5", "float32", "unstructured", 3 * 4 + 2),  # 15 bits
        ("relidx8", "float32", "unstructured", 3 * 4 + 3),
        ("paper", "float32", "unstructured", 3 * 4 + 2),  # min(16 bits, 12 bits)
        ("paper2", "float32", "unstructured", 3 * 4 + 1),  # min(16 bits, 6 bits)
        ("paper8", "float32", "unstructured", 3 * 4 + 2),  # min(16 bits, 24 bits)
        ("nm", "float32", "2:4", 8 * 4 + 2),  # 4 groups x 2 slots, 2 position bits each
        ("nm", "float32", "1:4", 4 * 4 + 1),
        ("block", "float32", "2x4", 1 + 16 * 4),  # both 2x4 blocks hold a nonzero
        ("block", "float32", "1x4", 1 + 12 * 4),  # 3 of 4 blocks kept
        ("block", "float32", "1x3", 1 + 7 * 4),  # ragged: kept blocks of 3, 2 and 2 elements
        ("auto", "float32", "unstructured", 14),
    ],
)
def test_exact_size_of_a_tiny_tensor_matches_the_hand_count(
    fmt: str, dtype: str, pattern: str, expected: int
) -> None:
    assert tensor_bytes_from_mask(TINY, fmt, dtype, pattern) == expected


def test_csr8_cannot_index_more_than_256_columns_and_falls_back_to_csr16() -> None:
    assert tensor_bytes((4, 256), 10, "csr8") == 10 * 5 + 5 * 4
    assert tensor_bytes((4, 257), 10, "csr8") == tensor_bytes((4, 257), 10, "csr16")
    assert tensor_bytes((4, 257), 10, "csr8") == 10 * 6 + 5 * 4
    assert tensor_bytes((1, 65537), 10, "csr8") == tensor_bytes((1, 65537), 10, "csr32")


def test_csr16_column_limit_is_65536() -> None:
    assert tensor_bytes((1, 65536), 10, "csr16") == 10 * 6 + 2 * 4
    assert tensor_bytes((1, 65537), 10, "csr16") == 10 * 8 + 2 * 4


def test_auto_never_picks_a_format_that_cannot_index_the_columns() -> None:
    # 8 rows x 300 columns, one nonzero per row in column 299: csr8 (8 x 5 + 9 x 4 = 76 bytes)
    # would be cheapest if 8-bit indices could address column 299.
    weight = np.zeros((8, 300), dtype=np.float32)
    weight[:, 299] = 1.0
    best = tensor_bytes_from_mask(weight, "auto")
    assert best == min(tensor_bytes_from_mask(weight, f) for f in ("csr16", "relidx8", "bitmask"))
    assert best == 80  # relidx8: 8 values + 8 fillers (runs of 299 > 255 zeros), 5 bytes each
    assert best > 8 * 5 + 9 * 4


def test_nm_format_requires_an_nm_pattern() -> None:
    with pytest.raises(PrunefrontError, match="N:M"):
        tensor_bytes((8, 8), 32, "nm", pattern="unstructured")
    with pytest.raises(PrunefrontError, match="block pattern"):
        tensor_bytes((8, 8), 32, "block", pattern="2:4")


def test_nm_falls_back_to_bitmask_when_the_weights_break_the_pattern() -> None:
    weight = np.ones((2, 8), dtype=np.float32)  # 4 of 4 in every group
    assert tensor_bytes_from_mask(weight, "nm", pattern="2:4") == 2 + 16 * 4


@pytest.mark.parametrize("sparsity", [0.5, 0.8, 0.95])
@pytest.mark.parametrize("pattern", ["unstructured", "2:4", "1x8"])
def test_auto_is_the_minimum_of_the_applicable_formats(sparsity: float, pattern: str) -> None:
    torch.manual_seed(0)
    weight = torch.randn(64, 96)
    if pattern == "2:4" and sparsity < 0.5:
        pytest.skip("below 2:4's minimum")
    weight = weight * magnitude_mask(weight, sparsity, parse_pattern(pattern))
    names = ["dense", "bitmask", "csr8", "csr16", "csr32", "relidx4", "relidx5", "relidx8"]
    names += {"2:4": ["nm"], "1x8": ["block"]}.get(pattern, [])
    sizes = [tensor_bytes_from_mask(weight, n, pattern=pattern) for n in names]
    assert tensor_bytes_from_mask(weight, "auto", pattern=pattern) == min(sizes)


def _random_sparse(shape: tuple[int, int], sparsity: float, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    numel = shape[0] * shape[1]
    keep = numel - round(sparsity * numel)
    flat = torch.zeros(numel)
    flat[torch.randperm(numel, generator=generator)[:keep]] = 1.0 + torch.rand(keep)
    return flat.view(shape)


@pytest.mark.parametrize("sparsity", [0.3, 0.5, 0.75, 0.9, 0.95, 0.99])
@pytest.mark.parametrize("fmt", ["dense", "bitmask", "csr8", "csr16", "csr32", "paper4"])
def test_analytic_size_equals_exact_size_of_a_random_mask(sparsity: float, fmt: str) -> None:
    weight = _random_sparse((128, 200), sparsity, seed=1)
    nnz = int(torch.count_nonzero(weight))
    for dtype in ("float32", "int8"):
        assert tensor_bytes((128, 200), nnz, fmt, dtype) == tensor_bytes_from_mask(
            weight, fmt, dtype
        )


@pytest.mark.parametrize("sparsity", [0.5, 0.75, 0.9, 0.95, 0.99])
@pytest.mark.parametrize("bits", [2, 4, 5, 8])
def test_relidx_expected_fillers_are_within_three_percent_of_a_random_mask(
    sparsity: float, bits: int
) -> None:
    weight = _random_sparse((256, 512), sparsity, seed=2)
    nnz = int(torch.count_nonzero(weight))
    analytic = tensor_bytes((256, 512), nnz, f"relidx{bits}")
    exact = tensor_bytes_from_mask(weight, f"relidx{bits}")
    assert analytic == pytest.approx(exact, rel=0.03)
    if bits == 2 and sparsity >= 0.9:
        assert exact > nnz * 4 * 1.5  # fillers are real and counted


@pytest.mark.parametrize(("pattern", "fmt"), [("2:4", "nm"), ("1:4", "nm"), ("4x4", "block")])
@pytest.mark.parametrize("sparsity", [0.75, 0.9])
def test_structured_analytic_size_equals_exact_size_of_a_pruned_tensor(
    pattern: str, fmt: str, sparsity: float
) -> None:
    torch.manual_seed(3)
    weight = torch.randn(64, 96)
    weight = weight * magnitude_mask(weight, sparsity, parse_pattern(pattern))
    nnz = int(torch.count_nonzero(weight))
    assert tensor_bytes((64, 96), nnz, fmt, pattern=pattern) == tensor_bytes_from_mask(
        weight, fmt, pattern=pattern
    )


def test_unknown_format_error_is_one_line_listing_the_valid_ones() -> None:
    with pytest.raises(PrunefrontError) as info:
        parse_format("coo")
    message = str(info.value)
    assert "\n" not in message and "'coo'" in message
    assert all(name in message for name in ("auto", "bitmask", "csr16", "relidx", "paper"))


@pytest.mark.parametrize("text", ["csr4", "csr64", "relidx0", "relidx17", "paper0", "", "nm2"])
def test_format_with_an_unsupported_width_is_rejected(text: str) -> None:
    with pytest.raises(PrunefrontError, match="unknown storage format"):
        parse_format(text)


def test_format_aliases_resolve_to_canonical_names() -> None:
    assert parse_format("CSR").name == "csr16"
    assert parse_format("relidx").name == "relidx4"
    assert parse_format(" paper ").name == "paper4"
    assert parse_format("relidx5").name == "relidx5"


def test_unknown_dtype_error_is_one_line_listing_the_valid_ones() -> None:
    with pytest.raises(PrunefrontError) as info:
        parse_dtype("float8")
    message = str(info.value)
    assert "\n" not in message and "float8" in message
    assert all(name in message for name in ("float32", "float16", "bfloat16", "int8"))
    assert parse_dtype("FP16").value_bytes == 2
    assert parse_dtype("int8").overhead_bytes((2, 8)) == 2 * 4  # one scale per output channel
    assert parse_dtype("int8").overhead_bytes((5,)) == 4  # one for a vector


def test_nnz_outside_the_tensor_is_rejected() -> None:
    with pytest.raises(PrunefrontError, match=r"nnz must be an integer in \[0, 64\]"):
        tensor_bytes((8, 8), 65, "bitmask")
