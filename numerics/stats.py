"""Statistics of one tensor, computed on the tensor's own device.

Nothing here moves data to the host: :func:`tensor_stats` returns one small
1-D tensor per input (on the input's device) so that the tracker can stack the
rows of a whole step and copy them to the host in a single transfer.

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
"""

from __future__ import annotations

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


RAW_FIELDS = ("numel", "sampled", "n_finite", "sum", "sum_sq", "sum_abs", "max_abs", "min_abs", "n_zero", "n_inf")


def row_width(histogram: bool) -> int:
    """Length of the vector :func:`tensor_stats` returns."""
    return len(COUNT_FIELDS) + len(SCALAR_STATS) + (N_BINS if histogram else 0)


def raw_stats(x: torch.Tensor, max_elements: int = 0, histogram: bool = True) -> torch.Tensor:
    """Sums and extremes of ``x`` on ``x.device`` (no host sync, ~20 kernels).

    Layout: :data:`RAW_FIELDS`, then (``histogram``) ``N_BINS`` raw bin counts
    in which zeros and non-finite values still sit in bin ``-1`` and +-inf is
    not yet in ``overflow``; :func:`finish` fixes both on the host.  Sums are
    accumulated in float64 (float32 on MPS, which has no float64).
    """
    x = x.detach()
    numel = x.numel()
    flat = subsample(x.reshape(-1), max_elements)
    acc = torch.float32 if flat.device.type == "mps" else torch.float64
    v = flat.to(acc)
    n = v.numel()
    if n == 0:
        row = torch.zeros(len(RAW_FIELDS) + (N_BINS if histogram else 0), dtype=acc, device=v.device)
        row[0] = numel
        return row
    finite = torch.isfinite(v)
    vf = torch.where(finite, v, 0.0)
    a = vf.abs()
    min_abs = torch.where(a > 0, a, float("inf")).min()
    parts = torch.stack([
        finite.sum().to(acc), vf.sum(), torch.dot(vf, vf), a.sum(), a.max(), min_abs,
        (v == 0).sum().to(acc), torch.isinf(v).sum().to(acc),
    ])
    head = torch.tensor([numel, n], dtype=acc, device=v.device)
    if not histogram:
        return torch.cat([head, parts])
    _, e = torch.frexp(vf)  # vf = m * 2**e, 0.5 <= |m| < 1  ->  floor(log2|vf|) = e - 1
    b = (e - EXP_MIN).clamp_(0, N_BINS - 1)  # (e - 1) - (EXP_MIN - 1)
    return torch.cat([head, parts, torch.bincount(b.reshape(-1), minlength=N_BINS).to(acc)])


def finish(raw):
    """Host side: turn :func:`raw_stats` rows (numpy, 1-D or 2-D) into the
    :func:`tensor_stats` layout (numel, sampled, SCALAR_STATS, bins)."""
    import numpy as np

    r = np.atleast_2d(np.asarray(raw, dtype=np.float64))
    numel, n, n_fin, s1, s2, sa, mx, mn, n_zero, n_inf = (r[:, i] for i in range(len(RAW_FIELDS)))
    with np.errstate(divide="ignore", invalid="ignore"):
        has = n_fin > 0
        mean = np.where(has, s1 / n_fin, np.nan)
        ms = np.where(has, s2 / n_fin, np.nan)
        std = np.sqrt(np.maximum(ms - mean * mean, 0.0))
        out = np.column_stack([
            numel, n, mean, std, np.where(has, sa / n_fin, np.nan), np.where(has, mx, np.nan),
            np.where(np.isfinite(mn), mn, np.nan), np.sqrt(ms),
            np.where(n > 0, n_zero / n, np.nan), np.where(n > 0, (n - n_fin) / n, np.nan),
        ])
    if r.shape[1] > len(RAW_FIELDS):
        hist = r[:, len(RAW_FIELDS):].copy()
        hist[:, -EXP_MIN] -= n_zero + (n - n_fin)  # bin of exponent -1 held them
        hist[:, -1] += n_inf
        out = np.concatenate([out, hist], axis=1)
    return out if np.ndim(raw) == 2 else out[0]


def tensor_stats(x: torch.Tensor, max_elements: int = 0, histogram: bool = True):
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
    return finish(raw_stats(x, max_elements, histogram).cpu().double().numpy())


def bin_labels() -> list[str]:
    """Names of the histogram bins: ``underflow``, ``-149`` ... ``127``, ``overflow``."""
    return ["underflow"] + [str(e) for e in range(EXP_MIN, EXP_MAX + 1)] + ["overflow"]
