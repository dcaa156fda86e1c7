"""A run's configuration: saved into its folder, found again, checked against today's tree, restored.

A trainer saves ``runs/<project>/<run>/.config`` (the effective configuration,
every override applied) and ``defconfig`` (its ``savedefconfig`` form).
``make defconfig RUN=<project>/<run>`` puts that ``.config`` back byte for
byte, unless the Kconfig tree has changed in a way that would make it mean
something else; then each such symbol is listed and nothing is written
(``FORCE=1`` takes the run's values as far as the tree allows).
"""

from __future__ import annotations

import os
from pathlib import Path

import kconfiglib

from kconf.configure import defconfig_path, list_defconfigs, write_config
from kconf.errors import ConfigError
from kconf.files import check_writable, read_text, write_all_if_changed
from kconf.floats import float_problem
from kconf.projectname import MACHINE_DEFAULTS
from kconf.tree import assignments, check_assignment, config_text, min_config_text, open_tree, read_config
from ktrack.runfolder import CONFIG, RunFolder


def run_header(label: str) -> str:
    """The comment block at the top of a run's ``.config``."""
    return (f"# ktrack run {label}: the configuration it trained with\n"
            f"# restore it with: make defconfig RUN={label}\n")


def save_run_config(tree: kconfiglib.Kconfig, run_dir: str | os.PathLike[str], label: str) -> None:
    """Write ``<run_dir>/.config`` and ``<run_dir>/defconfig`` (both or neither; ConfigError on failure)."""
    run_dir = Path(run_dir)
    header = run_header(label)
    write_all_if_changed({RunFolder(run_dir).config: config_text(tree, header),
                          RunFolder(run_dir).defconfig: min_config_text(tree, header)})


def runs_dir(root: str | os.PathLike[str], config: str | os.PathLike[str] | None) -> Path:
    """``RUNS_DIR`` of ``config`` when it can be read, else the tree's default."""
    tree = open_tree(root)
    if config is not None and Path(config).is_file():
        try:
            read_config(tree, config)
        except ConfigError:
            tree = open_tree(root)
    return Path(tree.syms["RUNS_DIR"].str_value)


def find_run(spec: str, base: str | os.PathLike[str]) -> Path:
    """The run folder ``spec`` names: a path, ``<project>/<run>`` or a run name under ``base``.

    Raises ConfigError when there is none, when it holds no ``.config``, or
    when a bare run name is in several projects.
    """
    base = Path(base)
    if not spec.strip():
        raise ConfigError("no run given: write RUN=<project>/<run> or RUN=runs/<project>/<run>")
    candidates = [Path(spec), base / spec]
    if "/" not in spec:
        candidates += sorted(p for p in base.glob(f"*/{spec}") if p.is_dir()) if base.is_dir() else []
    found = list(dict.fromkeys(p.resolve() for p in candidates if p.is_dir()))
    if not found:
        raise ConfigError(f"no run {spec!r}: give a run folder (runs/<project>/<run>) or <project>/<run> "
                          f"under {base}")
    if len(found) > 1 and "/" not in spec:
        projects = ", ".join(p.parent.name for p in found)
        raise ConfigError(f"run name {spec!r} is in several projects ({projects}); write RUN=<project>/{spec}")
    run = found[0]
    if not (RunFolder(run).config).is_file():
        raise ConfigError(f"{run} holds no {CONFIG}: only runs started by ktrack's trainers can be restored")
    return run


def _written(sym: kconfiglib.Symbol) -> str | None:
    """The value ``.config`` would record for ``sym`` now (``n`` for "is not set"), None when absent."""
    line = sym.config_string
    if not line:
        return None
    return "n" if line.startswith("#") else line.rstrip("\n").split("=", 1)[1]


def _shown(value: str | None) -> str:
    return "nothing (its dependencies are off)" if value is None else value


def tree_changes(root: str | os.PathLike[str], run_dir: str | os.PathLike[str]) -> list[str]:
    """One line per symbol whose recorded value the current tree would not give back.

    A symbol gone from the tree, a value no longer valid (type, range, float
    interval) or that does not take (a dependency or a derived value changed),
    and a default that changed (the run's ``defconfig`` no longer gives the
    run's value). Symbols new to the tree take their defaults and are not listed.
    """
    run_dir = Path(run_dir)
    tree = open_tree(root)
    text = read_text(RunFolder(run_dir).config)
    if text is None:
        raise ConfigError(f"cannot read {RunFolder(run_dir).config}; check its permissions")
    lines: list[str] = []
    recorded: dict[str, str] = {}
    for number, name, value in assignments(text):
        sym = tree.syms.get(name) if name else None
        if not name:
            lines.append(f"line {number}: not a Kconfig assignment: {value[:60]!r}")
        elif sym is None or not sym.nodes:
            lines.append(f"{name}: no longer in the Kconfig tree (the run had {value})")
        elif problem := check_assignment(tree, name, value):
            lines.append(f"{name}: no longer valid: {problem}")
        else:
            recorded[name] = value
    tree.load_config(str(RunFolder(run_dir).config))
    for name, value in recorded.items():
        now = _written(tree.syms[name])
        if now != value:
            lines.append(f"{name}: the run had {value}, the tree now gives {_shown(now)}")
    minimal = RunFolder(run_dir).defconfig
    if minimal.is_file():
        fresh = open_tree(root)
        fresh.load_config(str(minimal))
        flagged = {line.split(":", 1)[0] for line in lines}
        for name, value in recorded.items():
            now = _written(fresh.syms[name])
            if name not in flagged and name not in MACHINE_DEFAULTS and now != value:
                lines.append(f"{name}: its default changed: the run had {value}, the default now gives {_shown(now)}")
    return lines


def _lenient_tree(root: str | os.PathLike[str], run_dir: Path) -> kconfiglib.Kconfig:
    """The run's values as far as the current tree takes them (invalid floats fall back to their defaults)."""
    tree = open_tree(root)
    tree.load_config(str(RunFolder(run_dir).config))
    for sym in tree.unique_defined_syms:
        if sym.user_value is not None and isinstance(sym.user_value, str) and float_problem(sym, sym.user_value):
            sym.unset_value()
    return tree


def restore(root: str | os.PathLike[str], run_dir: str | os.PathLike[str], config: str | os.PathLike[str],
            force: bool = False, changes: list[str] | None = None) -> tuple[kconfiglib.Kconfig, list[str]]:
    """Put the run's ``.config`` at ``config``; return the configured tree and the symbols that changed.

    With no changes the file is copied byte for byte. With changes and not
    ``force``, ConfigError (nothing written; the caller lists the symbols
    first, from :func:`tree_changes`). With ``force``, the run's values are
    applied to the current tree and written by kconfiglib. ``changes`` is
    :func:`tree_changes`'s answer when the caller already has it.
    """
    run_dir = Path(run_dir)
    if changes is None:
        changes = tree_changes(root, run_dir)
    if changes and not force:
        raise ConfigError(f"the Kconfig tree changed since run {run_dir} ({len(changes)} symbol(s) listed above); "
                          f".config was not touched: FORCE=1 takes the run's values as far as the tree allows")
    if changes:
        tree = _lenient_tree(root, run_dir)
        write_config(tree, config)
        return tree, changes
    text = read_text(RunFolder(run_dir).config) or ""
    config = Path(config)
    old = read_text(config)
    if old != text:
        check_writable(config)
        outputs = {config: text} if old is None else {config.with_name(config.name + ".old"): old, config: text}
        write_all_if_changed(outputs)
    tree = open_tree(root)
    read_config(tree, config)
    return tree, []


def config_values(spec: str, root: str | os.PathLike[str], base: str | os.PathLike[str]) -> tuple[str, dict[str, str]]:
    """``(label, {SYMBOL: value as .config writes it})`` for a run, a configuration file or a defconfig name.

    A file (a full ``.config`` or a minimal defconfig) is read by kconfiglib
    without the strict checks, so an old run still diffs; assignments to
    symbols the tree no longer has are kept as they were written.
    """
    path = Path(spec)
    tree = open_tree(root)
    if path.is_file() or (path.is_dir() and (RunFolder(path).config).is_file()):
        source = path if path.is_file() else RunFolder(path).config
    elif spec in list_defconfigs(root):
        source = defconfig_path(root, spec)
    else:
        try:
            source = RunFolder(find_run(spec, base)).config
        except ConfigError:
            raise ConfigError(f"no run, configuration file or defconfig named {spec!r}: give a run "
                              f"(<project>/<run>), a .config path or a name from 'make list-defconfigs'") from None
    try:
        tree.load_config(str(source))
    except OSError as exc:
        raise ConfigError(f"cannot read {source}: {exc.strerror}; check the path") from None
    values = {name: value for _, name, value in assignments(config_text(tree)) if name}
    values.update({name: value for name, value in tree.missing_syms})
    return str(spec), values
