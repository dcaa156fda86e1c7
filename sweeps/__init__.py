"""Sweeps: many experiments from one YAML file, run locally or on Slurm, and compared.

    import sweeps
    sweeps.run("sweeps/lr-optimizer.yaml", jobs=2)         # make sweep SWEEP=... JOBS=2
    sweep, state = sweeps.open_state("sweeps/lr-optimizer.yaml")
    table = sweeps.summary.rows(state, sweep.metric)        # make sweep-summary
    runs = sweeps.run_folders.load_runs(["lr=1e-3,opt=adamw", "lr=3e-4,opt=adamw"])
    print(sweeps.run_folders.compare_text(runs))            # ktrack-sweep compare

See docs/sweeps.md.
"""

from __future__ import annotations

from sweeps import run_folders, summary
from sweeps.errors import SweepError
from sweeps.runner import open_state, run
from sweeps.spec import load, run_name

__all__ = ["SweepError", "load", "open_state", "run", "run_folders", "run_name", "summary"]
