"""Statistics against independent numpy computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from numerics.stats import EXP_MAX, EXP_MIN, N_BINS, SCALAR_STATS, subsample, tensor_stats


def np_stats(a: np.ndarray) -> dict[str, float]:
    a = a.astype(np.float64).ravel()
    fin = a[np.isfinite(a)]
    nz = np.abs(fin[fin != 0])
    nan = float("nan")
    m = np.abs(fin).max() if fin.size and np.abs(fin).max() > 0 else 1.0  # avoid overflow in squares
    return {
        "mean": fin.mean() if fin.size else nan,
        "std": m * (fin / m).std() if fin.size else nan,
        "mean_abs": np.abs(fin).mean() if fin.size else nan,
        "max_abs": np.abs(fin).max() if fin.size else nan,
        "min_abs": nz.min() if nz.size else nan,
        "rms": m * math.sqrt(((fin / m) ** 2).mean()) if fin.size else nan,
        "frac_zero": float((a == 0).mean()),
        "frac_nonfinite": float((~np.isfinite(a)).mean()),
    }


def np_hist(a: np.ndarray) -> np.ndarray:
    a = a.astype(np.float64).ravel()
    counts = np.zeros(N_BINS, dtype=np.int64)
    for v in a:
        if v == 0 or np.isnan(v):
            continue
        if np.isinf(v):
            counts[-1] += 1
            continue
        e = math.floor(math.log2(abs(v)))
        counts[min(max(e, EXP_MIN - 1), EXP_MAX + 1) - (EXP_MIN - 1)] += 1
    return counts


def check(t: torch.Tensor) -> None:
    row = tensor_stats(t)
    ref = np_stats(t.double().numpy() if t.dtype != torch.bfloat16 else t.float().double().numpy())
    assert row[0] == t.numel() and row[1] == t.numel()
    for i, s in enumerate(SCALAR_STATS):
        got, want = row[2 + i], ref[s]
        if math.isnan(want):
            assert math.isnan(got), s
        else:
            assert got == pytest.approx(want, rel=1e-5, abs=1e-300), s
    ref = t.float().double().numpy() if t.dtype == torch.bfloat16 else t.double().numpy()
    np.testing.assert_array_equal(row[2 + len(SCALAR_STATS):].astype(np.int64), np_hist(ref))


CASES = {
    "zeros": torch.zeros(10),
    "neg_zero": torch.tensor([0.0, -0.0, 1.0]),
    "normal": torch.randn(1000, generator=torch.Generator().manual_seed(0)),
    "inf": torch.tensor([1.0, float("inf"), -2.0, float("-inf")]),
    "nan": torch.tensor([float("nan"), 3.0, 0.0, -4.0]),
    "all_nan": torch.full((5,), float("nan")),
    "subnormals": torch.tensor([1e-45, 1e-40, 2.0**-126, 2.0**-127, -1e-44, 0.0]),
    "huge": torch.tensor([3e38, -3e38, 1.0]),
    "bf16": torch.tensor([1.5, -2.0**-130, 300.0, 0.0], dtype=torch.bfloat16),
    "fp16": torch.tensor([6e-8, 65504.0, -1.0, 0.5], dtype=torch.float16),
    "float64_tiny": torch.tensor([1e-300, 1e100, 1.0], dtype=torch.float64),
    "ints": torch.tensor([0, 1, -3, 8]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_stats_match_numpy(name):
    check(CASES[name])


def test_histogram_bin_edges():
    # 2**e lands in bin e, just below 2**e lands in bin e-1
    row = tensor_stats(torch.tensor([4.0, 3.999, 2.0**-149, 2.0**127]))
    h = row[2 + len(SCALAR_STATS):]
    idx = lambda e: e - EXP_MIN + 1  # noqa: E731
    assert h[idx(2)] == 1 and h[idx(1)] == 1 and h[idx(-149)] == 1 and h[idx(127)] == 1
    assert h[0] == 0 and h[-1] == 0 and h.sum() == 4


def test_subsample_deterministic_stride():
    x = torch.arange(10_000, dtype=torch.float32)
    s = subsample(x, 1000)
    assert s.numel() == 1000 and s[0] == 0 and s[1] == 10
    assert torch.equal(s, subsample(x, 1000))
    assert subsample(x, 0).numel() == 10_000
    row = tensor_stats(x.view(100, 100), max_elements=1000)
    assert row[0] == 10_000 and row[1] == 1000
    assert row[2] == pytest.approx(np.arange(0, 10_000, 10).mean())


def test_no_histogram_row_is_short():
    assert tensor_stats(torch.ones(3), histogram=False).size == 2 + len(SCALAR_STATS)


def test_empty_tensor():
    row = tensor_stats(torch.empty(0))
    assert row[0] == 0 and math.isnan(row[2]) and row[2 + len(SCALAR_STATS):].sum() == 0


@pytest.mark.parametrize("name", sorted(set(CASES) - {"float64_tiny", "huge"}))
def test_float32_accumulator_path(name, monkeypatch):
    """The MPS path (float32 sums, frexp exponents), run on CPU."""
    import numerics.stats as S

    monkeypatch.setattr(S, "_accumulator", lambda device: torch.float32)
    t = CASES[name]
    row = tensor_stats(t)
    ref = np_stats(t.float().double().numpy())
    for i, s in enumerate(SCALAR_STATS):
        got, want = row[2 + i], ref[s]
        assert (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want, rel=1e-5, abs=1e-30), s
    np.testing.assert_array_equal(row[2 + len(SCALAR_STATS):].astype(np.int64), np_hist(t.float().double().numpy()))


@pytest.mark.parametrize("name", sorted(CASES))
def test_no_histogram_same_scalars(name):
    full, short = tensor_stats(CASES[name]), tensor_stats(CASES[name], histogram=False)
    np.testing.assert_array_equal(short, full[:short.size])


def test_batch_equals_single():
    """gather() over many tensors (one transfer) gives the rows of each alone."""
    from numerics.stats import gather, reduce

    ts = [CASES[k] for k in sorted(CASES)] + [torch.empty(0)]
    rows = gather([reduce(t) for t in ts])
    for t, r in zip(ts, rows, strict=True):
        np.testing.assert_array_equal(r, tensor_stats(t))
