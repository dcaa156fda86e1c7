"""python -m numerics plot RUN_DIR [--stat rms] [--kind activation] [--step N]
[--format FMT] [--module PATTERN] [--out DIR]

Write PNG figures of a run's numerics table: the statistic over steps per
module, a heatmap of modules x steps, the exponent histogram at a step with a
number format's range marked, and the loss curve from metrics.jsonl.
"""

from __future__ import annotations

import argparse
import sys

from ktrack import messages
from numerics.stats import SCALAR_STATS

PROG = "numerics"


def _parser() -> argparse.ArgumentParser:
    from numerics.plot import FORMATS
    from numerics.schema import KINDS

    p = argparse.ArgumentParser(prog=PROG, usage="python -m numerics plot RUN_DIR [options]",
                                description=(__doc__ or "").split("\n\n")[1])
    sub = p.add_subparsers(dest="command", required=True)
    pl = sub.add_parser("plot", prog=PROG, help="write PNG figures of a run's numerics table",
                        usage="python -m numerics plot RUN_DIR [options]")
    pl.add_argument("run_dir", metavar="RUN_DIR", help="run directory holding numerics.parquet")
    pl.add_argument("--stat", default="rms", choices=SCALAR_STATS, help="statistic to plot (rms)")
    pl.add_argument("--kind", default="activation", choices=KINDS, help="tensor kind (activation)")
    pl.add_argument("--step", type=int, default=None, help="step of the exponent histogram (last sampled)")
    pl.add_argument("--format", default=None, metavar="FMT",
                    help=f"number format marked on the histogram: {', '.join(FORMATS)} "
                         "(default: the tensors' own dtype)")
    pl.add_argument("--module", default=None, help="only modules matching this pattern (fnmatch or regex)")
    pl.add_argument("--out", default=None, help="output folder (RUN_DIR/plots)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse arguments, make the plots, print where they went.

    A bad request or table ends as ``numerics: error: ...`` and exit 1.
    """
    args = _parser().parse_args(argv)
    from numerics.plot import PlotError, plot_run
    from numerics.schema import SchemaError

    try:
        files = plot_run(args.run_dir, stat=args.stat, kind=args.kind, step=args.step,
                         fmt=args.format, module=args.module, out=args.out)
    except (PlotError, SchemaError, FileNotFoundError) as e:
        messages.fail(PROG, e)
    except OSError as e:
        messages.fail(PROG, f"could not write the plots: {e}; check that the output folder is writable")
    for f in files:
        print(f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
