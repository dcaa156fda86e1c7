"""scikit-learn's bundled 8x8 digits, scaled to 32x32 for LeNet-5 (no download)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def load_digits(val_fraction: float, seed: int
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return ``(x_train, y_train, x_val, y_val)``; images (N, 1, 32, 32) in [-1, 1].

    The split is a fixed permutation from ``seed``, the same on every machine.
    """
    from sklearn.datasets import load_digits as _load

    bunch = _load()
    x = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    x = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False) * 2.0 - 1.0
    y = torch.tensor(bunch.target, dtype=torch.long)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    n_val = max(1, int(len(y) * val_fraction))
    val, train = perm[:n_val], perm[n_val:]
    return x[train], y[train], x[val], y[val]
