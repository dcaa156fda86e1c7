"""The common device interface every backend implements."""
from __future__ import annotations

import time
from typing import Any

from .sample import GpuSample, make_sample


class Device:
    """One GPU found by :func:`gpu.discover`.

    Attributes: ``index`` (position across all vendors), ``vendor``
    (``"nvidia"|"amd"|"intel"|"jetson"``), ``name`` (marketing name).
    Backends override :meth:`_read`; :meth:`sample` never raises.
    """

    vendor = "unknown"

    def __init__(self, index: int, name: str) -> None:
        self.index = index
        self.name = name

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.index} {self.vendor} {self.name!r}>"

    def _read(self) -> dict[str, Any]:  # pragma: no cover - overridden
        """Return sample fields read from the hardware (missing ones omitted)."""
        return {}

    def sample(self) -> GpuSample:
        """Read the value files once and return a :class:`GpuSample`.

        Never raises: a backend failure gives a sample whose values are ``None``.
        """
        ts = time.time()
        try:
            values = self._read()
        except Exception:  # a GPU reading must never crash training
            values = {}
        return make_sample(self.index, self.vendor, self.name, ts, **values)
