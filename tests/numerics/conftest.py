"""Fixtures for the numerics tests: isolated env and a tiny model."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    for var, sub in (("HOME", "home"), ("XDG_CACHE_HOME", "cache"), ("HF_HOME", "hf"),
                     ("TRACKIO_DIR", "trackio"), ("WANDB_DIR", "wandb"), ("MPLCONFIGDIR", "mpl")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.delenv("KCONFIG_CONFIG", raising=False)


class TinyNet(nn.Module):
    """Two-layer MLP with an in-place op after a tracked module."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc1(x)
        h += 0.1  # in-place on a tracked module's output (full backward hooks would fail)
        h = self.act(h)  # in-place ReLU too
        return self.fc2(h)


class Recorder:
    """Stands in for trackers.Run: keeps what log() received."""

    def __init__(self) -> None:
        self.logs: list[tuple[int | None, dict]] = []

    def log(self, metrics: dict, step: int | None = None) -> None:
        self.logs.append((step, dict(metrics)))


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    return TinyNet()


@pytest.fixture
def recorder():
    return Recorder()


def train(model, opt, tracker, steps: int, seed: int = 1):
    """A few real optimizer steps; returns the losses."""
    g = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        x = torch.randn(32, 8, generator=g)
        y = torch.randn(32, 4, generator=g)
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        if tracker is not None:
            tracker.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
    return losses
