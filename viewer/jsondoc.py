"""``--json``: one JSON document per command, with the numbers the text shows.

NaN and +-inf become ``null`` (JSON has neither); the keys of each document
are listed in docs/viewer.md and stay stable.
"""
from __future__ import annotations

import json
import math
from typing import Any


def plain(value: Any) -> Any:
    """``value`` with non-finite floats as None, tuples as lists and keys as strings."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def dumps(doc: dict[str, Any]) -> str:
    """The document as indented JSON text."""
    return json.dumps(plain(doc), indent=2, ensure_ascii=False, allow_nan=False)
