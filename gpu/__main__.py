"""Print one sample of every GPU: ``python -m gpu [--json]``.

Exits 1 with ``No GPUs found (checked: ...)`` when there is none.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from .discover import checked, discover
from .render import render_once


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, sample every GPU once, print text or JSON."""
    parser = argparse.ArgumentParser(prog="python -m gpu", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print samples as JSON")
    args = parser.parse_args(argv)
    devices = discover()
    if not devices:
        print(f"gpu: No GPUs found (checked: {', '.join(checked())})",
              file=sys.stderr)
        return 1
    if any(d.vendor == "intel" for d in devices):
        time.sleep(0.25)   # Intel power/utilization are deltas between readings
    samples = [d.sample() for d in devices]
    if args.json:
        print(json.dumps([s.as_dict() for s in samples], indent=2, ensure_ascii=False))
    else:
        print(render_once(samples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
