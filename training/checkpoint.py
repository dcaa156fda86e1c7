"""Checkpoints: written atomically into the run folder, found and read back for ``--resume``.

A checkpoint holds everything a resumed part needs to continue the same
experiment: model, optimizer, pruning masks, RNG states, iteration, best
validation loss, the project and run, and what the end-of-run summary adds
up over parts (``elapsed_s``, ``start_val_loss``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import torch

from ktrack.messages import fail, warn
from ktrack.runfolder import RunFolder
from training.runtime import Dist, cleanup, rng_state, set_rng_state
from training.settings import SettingsError

#: Keys a file must hold to be resumed from.
REQUIRED = ("model", "optimizer", "iter")


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def save_training_checkpoint(prog: str, name: str, it: int, *, model: torch.nn.Module, opt: Any, pruner: Any,
                             best_val: float, settings: dict[str, Any], run: Any, out: Path, rng_data: Any,
                             elapsed_s: float, start_val_loss: float, **extra: Any) -> None:
    """Save ``<out>/checkpoints/<name>.pt`` with everything :func:`restore` and ``--resume`` need.

    A failed write is a warning: training goes on.
    """
    state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "iter": it,
             "best_val_loss": best_val, "config": dict(settings), "rng": rng_state({"data": rng_data}),
             "project": run.project, "run_name": run.name, "run_dir": str(out),
             "pruner": pruner.state_dict() if pruner else None,
             "elapsed_s": elapsed_s, "start_val_loss": start_val_loss, **extra}
    try:
        save_checkpoint(RunFolder(out).checkpoint(name), state)
    except (OSError, RuntimeError) as exc:
        warn(prog, f"checkpoint {name} not saved: {exc}; training goes on", key=f"checkpoint-{name}")


def find_checkpoint(spec: str, runs_dir: str, model: str, project: str | None = None) -> Path | None:
    """Resolve ``--resume``: a checkpoint file, a run folder, or ``last``
    (the newest ``checkpoints/last.pt`` for this model under ``runs_dir``)."""
    if spec != "last":
        p = Path(spec)
        if p.is_dir():
            for cand in (RunFolder(p).checkpoint(), p / "last.pt"):
                if cand.is_file():
                    return cand
            return None
        return p if p.is_file() else None
    pattern = f"{project}/*/checkpoints/last.pt" if project else "*/*/checkpoints/last.pt"
    found = [p for p in Path(runs_dir).glob(pattern)
             if project or p.parts[-4].startswith(f"{model}-")]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint for ``--resume``; SettingsError (one line) when it is damaged or not one."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - unpickling a damaged file fails in many ways
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise SettingsError(f"cannot read checkpoint {path} ({reason}); it is damaged: resume from another "
                            f"(checkpoints/best.pt) or start a new run without --resume") from None
    if not isinstance(state, dict) or any(key not in state for key in REQUIRED):
        raise SettingsError(f"{path} is not a ktrack checkpoint (it lacks {', '.join(REQUIRED)}); "
                            f"give a run folder or its checkpoints/last.pt")
    return state


def restore(ckpt: dict[str, Any], model: torch.nn.Module, opt: Any, pruner: Any) -> tuple[int, float, Any]:
    """Load a checkpoint into model, optimizer and pruner and the global RNGs.

    Returns (iteration, best validation loss, the data sampler's saved RNG state or None).
    Raises SettingsError when the checkpoint does not fit the configured model or optimizer.
    """
    try:
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        if pruner and ckpt.get("pruner"):
            pruner.load_state_dict(ckpt["pruner"])
    except (RuntimeError, KeyError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise SettingsError(f"the checkpoint does not fit the configured model or optimizer ({first}); "
                            f"resume with the run's configuration: make defconfig RUN=<project>/<run>") from None
    set_rng_state(ckpt.get("rng", {}))
    return int(ckpt["iter"]), float(ckpt.get("best_val_loss", math.inf)), ckpt.get("rng", {}).get("data")


def resume(ckpt: dict[str, Any] | None, model: torch.nn.Module, opt: Any, pruner: Any, d: Dist,
           gen: torch.Generator, prog: str) -> tuple[int, float]:
    """Where a trainer starts: ``(0, inf)`` without a checkpoint; else the checkpoint loaded (:func:`restore`)
    with this rank's data-sampler state in ``gen``, and its (iteration, best validation loss). A checkpoint
    that does not fit the configuration ends the program with one line."""
    if not ckpt:
        return 0, math.inf
    try:
        start_iter, best_val, gen_states = restore(ckpt, model, opt, pruner)
    except SettingsError as exc:
        cleanup(d)
        fail(prog, exc)
    if isinstance(gen_states, torch.Tensor):  # a checkpoint of one process, before the state was by rank
        gen_states = [gen_states]
    if gen_states and d.rank < len(gen_states):
        gen.set_state(gen_states[d.rank])
    return start_iter, best_val
