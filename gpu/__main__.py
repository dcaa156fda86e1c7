"""Print one sample of every GPU: ``python -m gpu [--json]``.

Exits 1 with ``gpu: error: No GPUs found (checked: ...)`` when there is none.
In JSON a value the hardware does not report is ``null``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from ktrack import messages

from .discover import checked, discover
from .render import render_once

PROG = "gpu"


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, sample every GPU once, print text or JSON."""
    parser = argparse.ArgumentParser(prog=PROG, usage="python -m gpu [-h] [--json]",
                                     description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print samples as JSON")
    args = parser.parse_args(argv)
    devices = discover()
    if not devices:
        messages.fail(PROG, f"No GPUs found (checked: {', '.join(checked())}); "
                      "check the driver, or KTRACK_SYSFS_ROOT")
    if any(d.vendor == "intel" for d in devices):
        time.sleep(0.25)   # Intel power/utilization are deltas between readings
    samples = [d.sample() for d in devices]
    if args.json:
        print(json.dumps([s.as_dict() for s in samples], indent=2, ensure_ascii=False, allow_nan=False))
    else:
        print(render_once(samples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
