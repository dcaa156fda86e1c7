"""Alert rules watched in the writer thread: a loss that is NaN/inf or diverges, a GPU that throttles.

Each rule fires at most once per run and key (or GPU and reason); the
:class:`~trackers.run.Run` prints it, journals it and sends it to every
tracker's alert channel. A rule configured to stop training sets
:attr:`AlertMonitor.stop_reason`, which ``run.stop_requested`` reports to the
training loop.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

import kconf
from ktrack.numbers import number
from trackers.backends import Alert

TITLE_MAX = 63  # W&B refuses titles of 64 characters or more


@dataclasses.dataclass(frozen=True)
class AlertRules:
    """Which rules are on and their thresholds (Kconfig menu "Alerts", where their defaults live)."""

    enabled: bool
    keys: tuple[str, ...]
    nan: bool
    nan_stop: bool
    divergence_factor: float  # 0 turns the rule off
    divergence_warmup: int  # values of a key seen before the rule applies to it
    divergence_stop: bool
    gpu_throttle: bool

    @classmethod
    def from_config(cls, cfg: kconf.Source) -> AlertRules:
        """Rules from ``TRACKER_ALERTS`` and the ``ALERT_*`` symbols of ``cfg`` (anything :func:`kconf.load` takes)."""
        cfg = kconf.load(cfg)
        return cls(enabled=bool(cfg.TRACKER_ALERTS), keys=tuple(str(cfg.ALERT_KEYS).replace(",", " ").split()),
                   nan=bool(cfg.ALERT_NAN), nan_stop=bool(cfg.ALERT_NAN_STOP),
                   divergence_factor=max(0.0, float(cfg.ALERT_DIVERGENCE_FACTOR)),
                   divergence_warmup=int(cfg.ALERT_DIVERGENCE_WARMUP),
                   divergence_stop=bool(cfg.ALERT_DIVERGENCE_STOP),
                   gpu_throttle=bool(cfg.ALERT_GPU_THROTTLE))


def make_alert(title: str, text: str, level: str = "WARN", step: int | None = None,
               t: float | None = None) -> Alert:
    """An :class:`Alert` with a checked level and a title short enough for every tracker."""
    level = str(level).upper()
    if level not in ("INFO", "WARN", "ERROR"):
        raise ValueError(f"alert level must be INFO, WARN or ERROR, got {level!r}")
    title = str(title).strip() or "alert"
    if len(title) > TITLE_MAX:
        title = title[:TITLE_MAX - 1] + "…"
    return Alert(title, str(text), level, step, time.time() if t is None else t)


class AlertMonitor:
    """Applies :class:`AlertRules` to logged rows and GPU samples."""

    def __init__(self, rules: AlertRules) -> None:
        self.rules = rules
        self.stop_reason: str | None = None
        self._minimum: dict[str, float] = {}
        self._seen: dict[str, int] = {}
        self._fired: set[tuple[str, ...]] = set()

    def _fire(self, key: tuple[str, ...], alert: Alert, stop: bool) -> list[Alert]:
        if key in self._fired:
            return []
        self._fired.add(key)
        if stop and self.stop_reason is None:
            self.stop_reason = alert.title
        return [alert]

    def check_row(self, step: int, values: dict[str, Any]) -> list[Alert]:
        """Alerts raised by one logged row (its watched loss keys)."""
        r = self.rules
        out: list[Alert] = []
        if not r.enabled:
            return out
        for key in r.keys:
            v = number(values.get(key))
            if v is None:
                continue
            if not math.isfinite(v):
                if r.nan:
                    shown = "NaN" if math.isnan(v) else ("inf" if v > 0 else "-inf")
                    stops = " Training stops (ALERT_NAN_STOP=y)." if r.nan_stop else ""
                    out += self._fire(("nan", key), make_alert(
                        f"{key} is {shown}", f"{key} = {shown} at step {step}.{stops}", "ERROR", step), r.nan_stop)
                continue
            seen = self._seen[key] = self._seen.get(key, 0) + 1
            low = self._minimum.get(key)
            if (r.divergence_factor > 0 and low is not None and low > 0 and seen > r.divergence_warmup
                    and v > r.divergence_factor * low):
                stops = " Training stops (ALERT_DIVERGENCE_STOP=y)." if r.divergence_stop else ""
                out += self._fire(("divergence", key), make_alert(
                    f"{key} diverged",
                    f"{key} = {v:.4g} at step {step}, above {r.divergence_factor:g} x its minimum {low:.4g}.{stops}",
                    "WARN", step), r.divergence_stop)
            self._minimum[key] = v if low is None else min(low, v)
        return out

    def check_gpus(self, samples: list[Any], step: int | None) -> list[Alert]:
        """Alerts for GPUs reporting throttle reasons (``GpuSample.throttle``)."""
        out: list[Alert] = []
        if not (self.rules.enabled and self.rules.gpu_throttle):
            return out
        for s in samples:
            reasons = getattr(s, "throttle", None)
            if not reasons:
                continue
            for reason in (x.strip() for x in str(reasons).split(",")):
                if reason:
                    out += self._fire(("throttle", str(s.index), reason), make_alert(
                        f"GPU {s.index} throttled ({reason})",
                        f"GPU {s.index} ({getattr(s, 'name', '?')}) reports {reason} throttling"
                        + (f" at step {step}" if step is not None and step >= 0 else "") + ".",
                        "WARN", step if step is not None and step >= 0 else None), False)
        return out
