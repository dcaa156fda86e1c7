"""Statistics of tensors, reduced on the tensors' own device.

:func:`reduce` turns one tensor into a few device-side sums, extremes and
a raw exponent count without any host sync; :func:`gather` stacks the
results of a whole step, folds the exponent counts and copies everything to
the host in one transfer per device, where :func:`finish` derives the
statistics with numpy.  :func:`tensor_stats` does all three for one tensor.

Definitions (``x`` is the tensor after subsampling, see :func:`subsample`):

* ``numel``: elements in the original tensor; ``sampled``: elements used.
* ``mean``, ``std`` (population, ddof=0, from float64 sums of x and x**2),
  ``mean_abs``, ``rms``: over the *finite* elements only; NaN when none.
* ``max_abs``: largest finite magnitude; ``min_abs``: smallest *non-zero*
  finite magnitude (zeros are counted by ``frac_zero``); NaN when none.
* ``frac_zero``: fraction of elements equal to 0 (both signs).
* ``frac_nonfinite``: fraction of elements that are NaN or +-inf.
* Exponent histogram: for every non-zero element that is not NaN, the bin is
  ``e = floor(log2(|x|))``, i.e. bin ``e`` counts ``2**e <= |x| < 2**(e+1)``.
  Bins run from ``EXP_MIN = -149`` (the smallest float32 subnormal, 2**-149)
  to ``EXP_MAX = 127`` (the float32/bfloat16 top binade), so every finite
  float32, bfloat16 and float16 value falls in a named bin.  ``underflow``
  counts ``0 < |x| < 2**EXP_MIN`` (only float64 can get there) and
  ``overflow`` counts ``|x| >= 2**(EXP_MAX+1)``, which includes +-inf.
  Zeros and NaNs are not in the histogram (see ``frac_zero`` and
  ``frac_nonfinite``).  Counts are of the subsampled elements.

How (float64 accumulation; float32 on MPS, which has no float64): the
tensor is converted once, ``a = |x|``; the histogram is a ``bincount`` of the
float64 biased exponent ``a.view(int64) >> 52`` (2048 raw bins: 0 holds zeros
and float64 subnormals, 2047 holds NaN and inf, so it also gives the finite
count); ``count_nonzero`` gives the zeros, ``a == inf`` the infinities; NaN
and inf are then zeroed in place and ``sum``, ``dot``, ``max`` and a masked
``min`` give the sums and extremes.  About a dozen simple element passes per
tensor and no data-dependent branch.
"""

from __future__ import annotations

import math
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

EXP_MIN = -149
EXP_MAX = 127
N_BINS = EXP_MAX - EXP_MIN + 3  # underflow + named bins + overflow

SCALAR_STATS = (
    "mean",
    "std",
    "mean_abs",
    "max_abs",
    "min_abs",
    "rms",
    "frac_zero",
    "frac_nonfinite",
)
COUNT_FIELDS = ("numel", "sampled")

# The device-side part of a row: PARTS, then (histogram on) N_BINS folded
# exponent counts, then the count of +-inf.
PARTS = ("sum", "sum_sq", "sum_abs", "max_abs", "min_abs", "n_nonzero", "n_nonzero_not_nan")
_RAW_BINS = 2048  # float64 biased exponents
_BIAS = 1023
_LO = EXP_MIN + _BIAS  # raw bin of the first named exponent (874)
_HI = EXP_MAX + _BIAS  # raw bin of the last named exponent (1150)
_HIGH_WORD = 1 if sys.byteorder == "little" else 0  # int32 half of a float64 holding the exponent
_WORKSPACE_MAX = 1 << 22  # elements; larger CPU tensors get fresh buffers
_ws_lock = threading.Lock()
_ws: dict[tuple[int, torch.dtype], torch.Tensor] = {}


def subsample(flat: torch.Tensor, max_elements: int) -> torch.Tensor:
    """Every ``stride``-th element of a 1-D tensor, ``stride = ceil(n / max)``.

    Deterministic (always starts at element 0) and cheap (a strided view).
    ``max_elements <= 0`` disables subsampling.  Beware aliasing: when the
    stride divides a row length, the same columns are picked in every row.
    """
    n = flat.numel()
    if max_elements <= 0 or n <= max_elements:
        return flat
    stride = -(-n // max_elements)
    return flat[::stride]


@dataclass
class Reduced:
    """Device-side reductions of one tensor (see :func:`reduce`)."""

    numel: int
    sampled: int
    parts: list[torch.Tensor] | None  # 0-dim: PARTS, then the +-inf count without histogram
    hist: torch.Tensor | None  # _RAW_BINS int64 counts of the biased exponent


def _accumulator(device: torch.device) -> torch.dtype:
    """float64, or float32 on MPS (which has no float64)."""
    return torch.float32 if device.type == "mps" else torch.float64


@contextmanager
def _buffers(n: int, device: torch.device, acc: torch.dtype) -> Iterator[tuple[torch.Tensor, ...]]:
    """Two ``acc`` and one int32 scratch vector of ``n`` elements.

    On CPU they are slices of buffers kept between calls (a fresh large
    tensor costs page faults on every use); on other devices the caching
    allocator already makes fresh tensors cheap.
    """
    if device.type != "cpu" or n > _WORKSPACE_MAX or not _ws_lock.acquire(blocking=False):
        yield tuple(torch.empty(n, dtype=d, device=device) for d in (acc, acc, torch.int32))
        return
    try:
        out = []
        for key, d in ((0, acc), (1, acc), (2, torch.int32)):
            buf = _ws.get((key, d))
            if buf is None or buf.numel() < n:
                buf = _ws[(key, d)] = torch.empty(max(n, 1 << 16), dtype=d)
            out.append(buf[:n])
        yield tuple(out)
    finally:
        _ws_lock.release()


def _exponent_bins(a: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """Raw bin (float64 biased exponent, 0..2047) of every element of ``a = |x|``
    (NaN already zeroed), written into the int32 vector ``out``."""
    if a.dtype == torch.float64:
        return torch.bitwise_right_shift(a.view(torch.int32)[_HIGH_WORD::2], 20, out=out)
    # float32 accumulator (MPS): frexp is exact for float32 subnormals too.
    _, e = torch.frexp(a)  # a = m * 2**e, 0.5 <= m < 1  ->  floor(log2 a) = e - 1
    b = (e.to(torch.int32) + (_BIAS - 1)).clamp_(1, _RAW_BINS - 2)
    b = torch.where(a == 0, 0, b)
    return torch.where(torch.isinf(a), _RAW_BINS - 1, b)


def reduce(x: torch.Tensor, max_elements: int = 0, histogram: bool = True) -> Reduced:
    """Reduce ``x`` on its device (no host sync); ``x`` is never modified.

    About 15 simple passes over a float64 copy, whatever the values are:
    copy, count non-zeros, NaN -> 0, count non-zeros again (the difference
    is the NaN count), ``|x|``, exponent = high bits (histogram: ``bincount``,
    whose top bin counts +-inf), +-inf -> 0, then ``sum``, ``dot``, ``sum``
    and ``max`` for the sums and the largest magnitude, and for the smallest
    non-zero magnitude a ``min`` over the bit patterns less one (zero wraps
    to the largest value).
    """
    x = x.detach()
    numel = x.numel()
    flat = subsample(x.reshape(-1), max_elements)
    n = flat.numel()
    if n == 0:
        return Reduced(numel, 0, None, None)
    acc = _accumulator(flat.device)
    ity, mask = (torch.int64, (1 << 63) - 1) if acc == torch.float64 else (torch.int32, (1 << 31) - 1)
    inf = float("inf")
    with _buffers(n, flat.device, acc) as (v, a, e):
        v.copy_(flat)
        s1 = v.sum()
        if flat.device.type == "cpu" and math.isfinite(s1.item()):
            # CPU has no transfer to save: a finite sum means no NaN/inf, so
            # the masking passes are skipped.
            n_nz = torch.count_nonzero(v)
            torch.abs(v, out=a)
            hist = torch.bincount(_exponent_bins(a, e), minlength=_RAW_BINS) if histogram else None
            s2, sa, mx = torch.dot(v, v), a.sum(), a.max()
            n_num, extra = n_nz, ([] if histogram else [torch.zeros((), dtype=torch.int64)])
        else:
            n_nz = torch.count_nonzero(v)
            v.nan_to_num_(0.0, inf, -inf)
            n_num = torch.count_nonzero(v)  # n_nz - n_num = NaN count
            torch.abs(v, out=a)
            hist = None
            if histogram:
                hist = torch.bincount(_exponent_bins(a, e), minlength=_RAW_BINS)  # top bin: +-inf
                extra = []
            else:
                extra = [torch.count_nonzero(torch.isinf(a))]
            v.nan_to_num_(0.0, 0.0, 0.0)
            a.nan_to_num_(0.0, 0.0, 0.0)
            s1, s2, sa, mx = v.sum(), torch.dot(v, v), a.sum(), a.max()
        bits = a.view(ity).sub_(1).bitwise_and_(mask).min()  # zero -> all ones
        min_abs = (bits + 1).view(acc)  # no non-zero finite value: wraps to -0.0
        parts = [s1, s2, sa, mx, min_abs, n_nz, n_num] + extra
    return Reduced(numel, n, parts, hist)


def gather(items: list[Reduced], histogram: bool = True) -> np.ndarray:
    """Finished rows (:func:`tensor_stats` layout, one per item), with one
    device-to-host transfer per device for all items together."""
    width = len(PARTS) + (N_BINS if histogram else 0) + 1
    host = np.zeros((len(items), width))
    host[:, PARTS.index("min_abs")] = np.inf
    by_device: dict[torch.device, list[int]] = {}
    for i, r in enumerate(items):
        if r.parts is not None:
            by_device.setdefault(r.parts[0].device, []).append(i)
    for idx in by_device.values():
        # one stack for the whole step (it promotes the integer counts)
        parts = torch.stack([t for i in idx for t in items[i].parts or ()]).view(len(idx), -1)
        if histogram:
            h = torch.stack([hist for i in idx if (hist := items[i].hist) is not None])
            folded = torch.cat([
                h[:, :_LO].sum(1, keepdim=True), h[:, _LO:_HI + 1],
                h[:, _HI + 1:_RAW_BINS - 1].sum(1, keepdim=True), h[:, _RAW_BINS - 1:],
            ], 1)
            parts = torch.cat([parts, folded.to(parts.dtype)], 1)
        host[idx] = parts.cpu().double().numpy()
    counts = np.array([(r.numel, r.sampled) for r in items], dtype=np.float64).reshape(-1, 2)
    return finish(counts, host, histogram)


def finish(counts: np.ndarray, parts: np.ndarray, histogram: bool = True) -> np.ndarray:
    """Host side: statistics rows from ``counts`` (numel, sampled) and the
    gathered :data:`PARTS` (+ folded histogram) of each tensor."""
    numel, n = counts[:, 0], counts[:, 1]
    p = {name: parts[:, i] for i, name in enumerate(PARTS)}
    n_inf = parts[:, -1]  # the top raw exponent bin, or counted
    n_nan = p["n_nonzero"] - p["n_nonzero_not_nan"]
    n_fin = n - n_nan - n_inf
    n_zero = n - p["n_nonzero"]
    with np.errstate(divide="ignore", invalid="ignore"):
        has = n_fin > 0
        mean = np.where(has, p["sum"] / n_fin, np.nan)
        ms = np.where(has, p["sum_sq"] / n_fin, np.nan)
        std = np.sqrt(np.maximum(ms - mean * mean, 0.0))
        mn = p["min_abs"]
        out = np.column_stack([
            numel, n, mean, std, np.where(has, p["sum_abs"] / n_fin, np.nan),
            np.where(has, p["max_abs"], np.nan), np.where(np.isfinite(mn) & (mn > 0), mn, np.nan),
            np.sqrt(ms), np.where(n > 0, n_zero / n, np.nan), np.where(n > 0, (n - n_fin) / n, np.nan),
        ])
    if histogram:
        hist = parts[:, len(PARTS):len(PARTS) + N_BINS].copy()
        hist[:, 0] -= n_zero + n_nan  # raw bin 0 held the zeros and the NaNs (zeroed)
        hist[:, -1] += n_inf  # +-inf sat in the top raw bin
        out = np.concatenate([out, hist], axis=1)
    return out


def tensor_stats(x: torch.Tensor, max_elements: int = 0, histogram: bool = True) -> np.ndarray:
    """Statistics of ``x`` as a numpy row (syncs; the tracker batches instead).

    Layout: ``numel, sampled``, then :data:`SCALAR_STATS` in order, then (when
    ``histogram``) ``N_BINS`` counts: underflow, ``EXP_MIN..EXP_MAX``, overflow.
    Integer and boolean tensors are converted to float first.

    Args:
        x: any tensor; it is detached and flattened, never modified.
        max_elements: subsample cap (see :func:`subsample`); 0 = no cap.
        histogram: include the exponent histogram counts.

    Returns:
        A float64 numpy array with the layout above.
    """
    return gather([reduce(x, max_elements, histogram)], histogram)[0]


def bin_labels() -> list[str]:
    """Names of the histogram bins: ``underflow``, ``-149`` ... ``127``, ``overflow``."""
    return ["underflow"] + [str(e) for e in range(EXP_MIN, EXP_MAX + 1)] + ["overflow"]
