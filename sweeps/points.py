"""Turning sweep points into full, validated ``.config`` files.

Every override of every point is applied with ``kconf``'s own
``set_symbol`` (kconfiglib) before anything is written or run, so a bad
symbol or value stops the sweep with one line naming it. Each point then gets
``runs/<project>/<run>/.config`` (the full configuration), its
``defconfig`` and ``params.yaml`` (what ``trackers.params.get_value`` reads via
``KTRACK_PARAMS``).

A point is its whole configuration, not its name: a run folder that already
holds a ``.config`` other than the point's (another sweep in the same
project differing in ``set:``, ``defconfig:``, ``SET=`` or ``TRACKER=``, or a
changed sweep file) is refused with one line naming the difference, so a
point is never skipped as done, or resumed, with another configuration's run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kconfiglib
import yaml

from kconf.configure import apply_trackers, defconfig_path, set_symbol, write_config
from kconf.errors import ConfigError
from kconf.files import read_text
from kconf.trackerspec import TRACKER_SYMBOLS
from kconf.tree import assignments, config_text, open_tree, read_config
from kconf.values import is_float_symbol, typed_value
from ktrack.runfolder import DEFCONFIG, PARAMS, RunFolder
from sweeps.errors import SweepError
from sweeps.spec import ALIASES, Sweep, run_name
from ktrack.names import BadName, check_project, check_run


@dataclass
class Point:
    """One configuration of a sweep."""

    index: int
    name: str
    varied: dict[str, Any]
    run_dir: Path
    params: dict[str, Any] = field(default_factory=dict)
    max_iters: int | None = None

    @property
    def config_path(self) -> Path:
        """The point's full ``.config`` (``KCONFIG_CONFIG`` of its command)."""
        return RunFolder(self.run_dir).config

    @property
    def params_path(self) -> Path:
        """The point's ``params.yaml`` (``KTRACK_PARAMS`` of its command)."""
        return RunFolder(self.run_dir).params


def kconfig_text(value: Any) -> str:
    """A YAML value as a Kconfig assignment value: y/n, digits, or the text."""
    if isinstance(value, bool):
        return "y" if value else "n"
    if isinstance(value, float):
        return repr(value)
    return str(value)


class Configurator:
    """Applies a sweep's base configuration plus one point's overrides to a kconfiglib tree.

    ``root`` is the checkout holding ``Kconfig`` and ``defconfigs/``;
    ``extra`` are ``SET=``-style pairs applied to every point after the sweep
    file's ``set:``; ``tracker`` is a ``TRACKER=`` value or None.
    """

    def __init__(self, sweep: Sweep, root: str | os.PathLike[str], extra: list[tuple[str, str]] | None = None,
                 tracker: str | None = None) -> None:
        self.sweep = sweep
        self.root = Path(root)
        self.tree = open_tree(self.root)
        try:
            self.base = defconfig_path(self.root, sweep.defconfig)
        except ConfigError as exc:
            raise SweepError(f"{sweep.path}: {exc}") from None
        self.fixed = [(sym, kconfig_text(v)) for sym, v in sweep.fixed.items()] + list(extra or [])
        self.tracker = tracker or sweep.tracker
        self.project = ""

    def _set(self, name: str, value: str, where: str) -> None:
        sym = self.tree.syms.get(name)
        if sym is not None and sym.nodes and is_float_symbol(sym):
            try:
                float(value)
            except ValueError:
                raise SweepError(f"{self.sweep.path}: {where}{name}={value!r} is not a number "
                                 f"({name} is a float)") from None
        try:
            set_symbol(self.tree, name, value)
        except ConfigError as exc:
            message = str(exc).replace(" in SET;", ";")
            raise SweepError(f"{self.sweep.path}: {where}{message}") from None

    def apply(self, varied: dict[str, Any], name: str) -> kconfiglib.Kconfig:
        """Load the base defconfig, then ``set:``, extra SET, TRACKER, the point and its run name."""
        read_config(self.tree, self.base)
        for sym, value in self.fixed:
            self._set(sym, value, "set: ")
        if self.tracker:
            try:
                apply_trackers(self.tree, str(self.tracker))
            except ConfigError as exc:
                raise SweepError(f"{self.sweep.path}: {exc}") from None
        for sym, value in varied.items():
            self._set(sym, kconfig_text(value), "vary: ")
        if self.sweep.project:
            self._set("TRACKER_PROJECT", self.sweep.project, "project: ")
        self.project = self.value("TRACKER_PROJECT") or "ktrack"
        try:
            check_project(self.project, [t for t, sym in TRACKER_SYMBOLS.items() if self.value(sym)])
            check_run(name)
        except BadName as exc:
            raise SweepError(f"{self.sweep.path}: {exc}") from None
        self._set("TRACKER_RUN_NAME", name, "")
        return self.tree

    def value(self, name: str) -> Any:
        """The typed value of ``name`` in the tree as configured now (None when unset or invisible)."""
        sym = self.tree.syms.get(name)
        return typed_value(sym) if sym is not None and sym.config_string else None

    def runs_dir(self, cwd: Path) -> Path:
        """``RUNS_DIR`` of the configured tree, relative paths taken from ``cwd``."""
        path = Path(str(self.value("RUNS_DIR")))
        return path if path.is_absolute() else cwd / path

    def params(self, varied: dict[str, Any], name: str) -> dict[str, Any]:
        """What the point's ``params.yaml`` holds: varied and fixed symbols (typed), their aliases."""
        out: dict[str, Any] = {}
        for sym in [*(s for s, _ in self.fixed), *varied]:
            value = self.value(sym)
            out[sym] = value
            if sym in ALIASES:
                out[ALIASES[sym]] = value
        out.update(sweep=self.sweep.name, run_name=name, project=self.project)
        return out


def config_symbols(text: str) -> dict[str, str]:
    """Symbol (without ``CONFIG_``) -> value of a ``.config`` text, as kconf reads it (``n`` for
    ``# CONFIG_X is not set``); lines that are no assignment are left out."""
    return {name: value for _, name, value in assignments(text) if name}


#: Symbols that say where and how a point is run, not what it computes: a sweep run again on another
#: partition, with more CPUs or more points at a time is the same experiment.
EXECUTION_PREFIXES = ("SLURM_", "SWEEP_")


def check_same_config(configurator: Configurator, point: Point) -> None:
    """Refuse ``point`` (as configured now) when its run folder holds a run of another configuration."""
    there = read_text(point.config_path)
    if there is None:
        return
    old, new = config_symbols(there), config_symbols(config_text(configurator.tree))
    differ = sorted(k for k in old.keys() | new.keys()
                    if old.get(k) != new.get(k) and not k.startswith(EXECUTION_PREFIXES))
    if not differ:
        return
    shown = ", ".join(f"{k} {old.get(k, 'unset')} there, {new.get(k, 'unset')} here"
                      for k in differ[:3]) + (f" and {len(differ) - 3} more" if len(differ) > 3 else "")
    raise SweepError(f"{configurator.sweep.path}: point {point.name} is already a run of another configuration "
                     f"in {point.run_dir} ({shown}); give this sweep a project of its own (project: in the "
                     f"sweep file) or remove that folder")


def plan(configurator: Configurator, points: list[dict[str, Any]], cwd: Path, start: int = 0) -> list[Point]:
    """Validate every point (nothing is written) and return them with their run dirs."""
    planned = []
    seen: set[str] = set()
    for offset, varied in enumerate(points):
        name = run_name(varied)
        if name in seen:
            name = f"{name},i={start + offset}"
        seen.add(name)
        configurator.apply(varied, name)
        run_dir = configurator.runs_dir(cwd) / configurator.project / name
        max_iters = configurator.value("TRAIN_MAX_ITERS")
        point = Point(start + offset, name, dict(varied), run_dir, configurator.params(varied, name),
                      int(max_iters) if isinstance(max_iters, int) else None)
        check_same_config(configurator, point)
        planned.append(point)
    return planned


def materialize(configurator: Configurator, point: Point) -> None:
    """Write the point's ``.config``, its ``defconfig`` (savedefconfig form) and ``params.yaml``
    into its run directory, the layout of every run folder."""
    configurator.apply(point.varied, point.name)
    point.run_dir.mkdir(parents=True, exist_ok=True)
    write_config(configurator.tree, point.config_path)
    minimal = point.run_dir / f".{DEFCONFIG}.tmp"
    configurator.tree.write_min_config(str(minimal), header=f"# sweep {configurator.sweep.name}: {point.name}\n")
    os.replace(minimal, RunFolder(point.run_dir).defconfig)
    text = yaml.safe_dump(point.params, sort_keys=False, default_flow_style=False)
    tmp = point.params_path.with_name(PARAMS + ".tmp")
    tmp.write_text(f"# {point.name}: sweep {configurator.sweep.name}; read with trackers.params.get_value\n" + text)
    os.replace(tmp, point.params_path)
