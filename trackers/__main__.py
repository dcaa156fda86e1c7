"""python -m trackers replay RUN_DIR --to trackio|wandb|tensorboard

Re-send a run's journal (runs/<project>/<run>/metrics.jsonl) to a tracker,
skipping rows the tracker already has; replaying twice sends nothing new.
"""

from __future__ import annotations

import argparse
import sys

from kconf.trackerspec import TRACKER_SYMBOLS
from ktrack.messages import fail

PROG = "python -m trackers"


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, replay, print one line."""
    parser = argparse.ArgumentParser(prog=PROG, description=(__doc__ or "").splitlines()[2])
    sub = parser.add_subparsers(dest="command", required=True)
    rp = sub.add_parser("replay", help="re-send a run's journal to a tracker")
    rp.add_argument("run_dir", metavar="RUN_DIR")
    rp.add_argument("--to", required=True, choices=list(TRACKER_SYMBOLS))
    args = parser.parse_args(argv)
    from trackers.replay import replay

    try:
        counts = replay(args.run_dir, args.to)
    except (ValueError, RuntimeError, OSError) as exc:
        fail(PROG, exc)
    left = f", {counts['unstorable']} values {args.to} cannot store left out" if counts["unstorable"] else ""
    print(f"replayed {args.run_dir} to {args.to}: {counts['sent']} rows sent, {counts['skipped']} already there{left}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
