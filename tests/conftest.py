"""Shared fixtures: every test runs with a private HOME and private tracker dirs.

The environment is redirected at configure time, before any test module can
import trackio or wandb (both read their directories at import), so no test
writes to the real home directory.

Tests come in two tiers. Those marked ``e2e`` start processes (make, the
command-line tools, trainers, tmux, Slurm) or import a real tracker (trackio,
wandb, TensorBoard); ``make test`` leaves them out, ``make check`` runs them.
At collection a test is marked ``e2e`` when it, one of its fixtures or a
function of tests/ they call uses ``subprocess``, ``multiprocessing`` or a
real tracker (see :func:`_reaches_e2e`), when it uses one of
:data:`E2E_FIXTURES`, or when it is marked ``tmux``. A test that reaches
processes or trackers only through the project's own code (a tracker enabled
in its configuration) is marked by its module's ``pytestmark``. A test that is
not marked and still starts a process or imports a real tracker fails, saying
to mark it.
"""

from __future__ import annotations

import contextlib
import dis
import importlib.abc
import inspect
import multiprocessing.process
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import pytest
from _pytest.mark.expression import Expression

REPO_ROOT = Path(__file__).resolve().parent.parent
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="ktrack-tests-"))


#: The variables that point programs at the test's private home and tracker folders.
HOME_VARIABLES = ("HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR",
                  "HF_HOME", "TRACKIO_DIR", "WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR",
                  "MPLCONFIGDIR")


def home_env() -> dict[str, str]:
    """The private home and tracker folders in force now, for a subprocess given an environment of its own."""
    return {key: os.environ[key] for key in HOME_VARIABLES if key in os.environ}


def _isolate(base: Path) -> dict[str, str]:
    env = {
        "HOME": base / "home",
        "XDG_CACHE_HOME": base / "home" / ".cache",
        "XDG_CONFIG_HOME": base / "home" / ".config",
        "XDG_DATA_HOME": base / "home" / ".local" / "share",
        "XDG_STATE_HOME": base / "home" / ".local" / "state",
        "XDG_RUNTIME_DIR": base / "runtime",  # GLib programs (dconf) keep their shared memory here
        "HF_HOME": base / "hf",
        "TRACKIO_DIR": base / "trackio",
        "WANDB_DIR": base / "wandb",
        "WANDB_CACHE_DIR": base / "wandb-cache",
        "WANDB_CONFIG_DIR": base / "wandb-config",
        "WANDB_DATA_DIR": base / "wandb-data",
        "MPLCONFIGDIR": base / "mpl",
    }
    for path in env.values():
        path.mkdir(parents=True, exist_ok=True)
    env["XDG_RUNTIME_DIR"].chmod(0o700)
    values = {key: str(path) for key, path in env.items()}
    values.update(WANDB_MODE="offline", WANDB_SILENT="true", WANDB_DISABLE_GIT="true",
                  HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRACKIO_NO_BROWSER="1",
                  GRADIO_ANALYTICS_ENABLED="False", DO_NOT_TRACK="1", BROWSER="true")
    return values


#: What a desktop session exports: without them nothing a test starts opens a window, a browser or a D-Bus
#: session (GLib and GTK programs write under the real home through those).
_DESKTOP = ("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "XAUTHORITY")


def _home_entries() -> set[str]:
    """Names in the real home directory and in its usual cache and config folders."""
    home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    names: set[str] = set()
    for folder in (home, home / ".cache", home / ".config", home / ".local" / "share"):
        try:
            names.update(str(p) for p in folder.iterdir())
        except OSError:
            pass
    return names


_HOME_BEFORE = _home_entries()


#: Prefixes of the variables through which a user's own set-up reaches trackers, GPUs, Slurm and the
#: Hugging Face libraries; none of them may steer a test (they are replaced by the private values below).
_USER_PREFIXES = ("TRACKIO_", "WANDB_", "HF_", "KTRACK_", "SLURM_", "SBATCH_", "SRUN_", "TRANSFORMERS_",
                  "TORCHELASTIC_")


def pytest_configure(config: pytest.Config) -> None:
    for name in _DESKTOP:
        os.environ.pop(name, None)
    for name in [key for key in os.environ if key.startswith(_USER_PREFIXES)]:
        os.environ.pop(name, None)
    os.environ.update(_isolate(_SESSION_DIR))
    # Programs the tests start keep their scratch under TMPDIR, and some never remove it (each torchrun
    # leaves a torchelastic_* folder): they get the session's folder, removed at the end.
    (_SESSION_DIR / "tmp").mkdir()
    os.environ["TMPDIR"] = str(_SESSION_DIR / "tmp")
    # Signals as a terminal leaves them: a test suite started in the background (`make check &`) inherits
    # SIGINT ignored, and every trainer it starts would then ignore Ctrl+C too.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    # Likewise SIGHUP under `nohup make check`: a trainer rightly keeps running through a hangup its
    # user asked it to ignore, and the hangup tests would wait for it.
    if signal.getsignal(signal.SIGHUP) == signal.SIG_IGN:
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
    # make exports its user variables (empty when not given) to the recipes, make check's pytest included
    for name in ("TRACKER", "SET", "DEFCONFIG", "KCONFIG_CONFIG", "WANDB_API_KEY", "RUN", "FORCE", "A", "B",
                 "SWEEP", "JOBS", "SWEEP_EXECUTOR", "TRAIN_ARGS"):
        os.environ.pop(name, None)
    for name in [key for key in os.environ if key.startswith("KTRACK_RAW_")]:
        os.environ.pop(name, None)


#: Fixtures made for processes that do not start one themselves (a tree copy for make, a trainer's
#: environment): a test using one is marked ``e2e`` (fixtures that call subprocess are found on their own).
E2E_FIXTURES = frozenset({"tree", "train_env"})

#: Real trackers: importing one costs seconds and writes to disk, so only ``e2e`` tests may.
_TRACKERS = ("trackio", "wandb", "tensorboard", "torch.utils.tensorboard", "tensorboardX")

#: Modules whose use in a test's code makes it ``e2e``: they start processes, or are real trackers.
_E2E_MODULES = ("subprocess", "multiprocessing", "torch.multiprocessing", "torch.distributed", *_TRACKERS)

#: Programs only ``e2e`` tests may start: Python (the command-line tools, trainers), make, shells, terminals,
#: Slurm, and whatever the venv installs (trackio-view, torchrun, wandb). Small system tools that libraries
#: call on their own (git, hostname, fc-list) and the fake GPU tools of tests/gpu stay allowed.
_E2E_PROGRAMS = frozenset({"make", "bash", "sh", "dash", "tmux", "srun", "sbatch", "salloc", "scancel", "squeue"})


def _e2e_program(args, executable, shell: bool) -> bool:
    """Whether ``Popen(args, executable=..., shell=...)`` starts one of the programs only e2e tests may."""
    if shell:
        return True
    program = executable or (args if isinstance(args, (str, bytes, os.PathLike)) else args[0])
    found = shutil.which(program) if isinstance(program, (str, os.PathLike)) else None
    if found is None:  # not installed: Popen raises FileNotFoundError as it would anyway
        return False
    path = Path(found)
    return path.name in _E2E_PROGRAMS or path.name.startswith("python") or path.parent == Path(sys.executable).parent


def _e2e_module(name: str) -> bool:
    return any(name == m or name.startswith(m + ".") for m in _E2E_MODULES)


def _codes(code: types.CodeType):
    """``code`` and the code of the functions, lambdas and comprehensions inside it."""
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _codes(const)


_REACHES: dict[object, bool] = {}


def _names_a_real_tracker(code: types.CodeType) -> bool:
    """Whether ``code`` passes ``trackers=`` and holds a string naming a real tracker (``"trackio"``,
    ``"wandb,tensorboard"``)."""
    # a call's keyword names are a tuple constant of the calling code (KW_NAMES, CALL_KW)
    if not any(isinstance(const, tuple) and "trackers" in const for const in code.co_consts):
        return False
    return any(isinstance(const, str) and set(re.split(r"[,+ ]", const)) & {"trackio", "wandb", "tensorboard"}
               for const in code.co_consts)


def _reaches_e2e(function: object) -> bool:
    """Whether ``function`` (a test, a fixture, a helper of tests/) imports or uses a module of
    :data:`_E2E_MODULES`, a name imported from one, or calls a function or class of tests/ that does."""
    if function in _REACHES:
        return _REACHES[function]
    _REACHES[function] = False  # a helper that calls itself
    if inspect.isclass(function):
        found = any(_reaches_e2e(f) for f in vars(function).values() if inspect.isfunction(f))
    else:
        found = False
        names = getattr(function, "__globals__", {})
        for code in _codes(function.__code__):  # type: ignore[attr-defined]
            # trackers.init(..., trackers="trackio") imports a real tracker in this process
            found = _names_a_real_tracker(code)
            for ins in dis.get_instructions(code):
                if found:
                    break
                if ins.opname == "IMPORT_NAME" and _e2e_module(ins.argval):
                    found = True
                elif ins.opname in ("LOAD_GLOBAL", "LOAD_NAME") and ins.argval in names:
                    value = names[ins.argval]
                    home = value.__name__ if inspect.ismodule(value) else getattr(value, "__module__", None) or ""
                    found = _e2e_module(home) or (
                        home.startswith("tests.") and (inspect.isfunction(value) or inspect.isclass(value))
                        and _reaches_e2e(value))
                if found:
                    break
            if found:
                break
    _REACHES[function] = found
    return found


def _is_e2e(item: pytest.Item) -> bool:
    if item.get_closest_marker("tmux") or E2E_FIXTURES.intersection(getattr(item, "fixturenames", ())):
        return True
    if isinstance(item, pytest.Function):
        # a hypothesis test's function is hypothesis's wrapper: the test's own code is its inner_test
        inner = getattr(getattr(item.function, "hypothesis", None), "inner_test", item.function)
        if _reaches_e2e(inner):
            return True
    fixtures = item._fixtureinfo.name2fixturedefs if isinstance(item, pytest.Function) else {}
    return any(_reaches_e2e(d.func) for defs in fixtures.values() for d in defs
               if getattr(d.func, "__module__", "").startswith("tests."))


def _leaves_out_e2e(markexpr: str) -> bool:
    """Whether ``-m markexpr`` deselects every ``e2e`` test whatever its other marks."""
    if not markexpr:
        return False
    expression = Expression.compile(markexpr)
    return not any(expression.evaluate(lambda name, other=other, **_: name == "e2e" or other)
                   for other in (False, True))


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Under ``-m "not e2e"`` a module marked ``e2e`` as a whole is not even imported (some import
    transformers, accelerate or trackio at their top)."""
    if (collection_path.suffix == ".py" and collection_path.name.startswith("test_")
            and _leaves_out_e2e(config.option.markexpr)
            and re.search(r"^pytestmark = .*pytest\.mark\.e2e", collection_path.read_text(), re.MULTILINE)):
        return True
    return None


def pytest_collection_finish(session: pytest.Session) -> None:
    """The viewer reads ./runs and kconf reads ./.config: a test that forgets a cwd must find an empty
    folder, not the checkout where `make demo` left its runs and configuration. (After collection: the
    workers of ``pytest -n`` find the test paths from the folder they were started in.)"""
    cwd = _SESSION_DIR / "cwd"
    cwd.mkdir(exist_ok=True)
    os.chdir(cwd)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``e2e`` the tests that start processes or import real trackers, as the module docstring says;
    put the tests of the one Slurm cluster on one worker of ``pytest -n`` (they count its jobs)."""
    for item in items:
        if not item.get_closest_marker("e2e") and _is_e2e(item):
            item.add_marker(pytest.mark.e2e)
        if item.nodeid.startswith("tests/slurm/"):
            item.add_marker(pytest.mark.xdist_group("slurm"))


class _NotInProcess(importlib.abc.MetaPathFinder):
    """Refuses the import of a real tracker not imported yet (in ``make test`` none is)."""

    def __init__(self, refuse) -> None:
        self.refuse = refuse

    def find_spec(self, name, path=None, target=None):
        if name in _TRACKERS:
            self.refuse(f"imports {name}")
        return None


@contextlib.contextmanager
def _in_process_only(nodeid: str):
    """While a test not marked ``e2e`` sets up and runs, starting a process or importing a real tracker fails
    it with the fix (a program that is not installed still fails as it would, with FileNotFoundError)."""
    def refuse(what: str):
        pytest.fail(f"{nodeid} {what}: mark it e2e (see tests/conftest.py) or keep it in this process",
                    pytrace=False)

    def popen(self, *args, **kwargs):
        call = signature.bind(self, *args, **kwargs).arguments
        if _e2e_program(call["args"], call["executable"], call["shell"]):
            refuse(f"starts {call['args']!r}")
        return real_popen(self, *args, **kwargs)

    real_popen = subprocess.Popen._execute_child  # type: ignore[attr-defined]
    signature = inspect.signature(real_popen)
    real_fork, real_start = os.fork, multiprocessing.process.BaseProcess.start
    finder = _NotInProcess(refuse)
    subprocess.Popen._execute_child = popen  # type: ignore[attr-defined]
    os.fork = lambda: refuse("forks")
    multiprocessing.process.BaseProcess.start = lambda self: refuse("starts a multiprocessing process")
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        subprocess.Popen._execute_child = real_popen  # type: ignore[attr-defined]
        os.fork, multiprocessing.process.BaseProcess.start = real_fork, real_start


def _tiered(item: pytest.Item):
    if item.get_closest_marker("e2e"):
        return contextlib.nullcontext()
    return _in_process_only(item.nodeid)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    with _tiered(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    with _tiered(item):
        return (yield)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Name what appeared in the real home during the run (tests must write only under their tmp dirs;
    another program of the same user may also have written there meanwhile)."""
    new = sorted(_home_entries() - _HOME_BEFORE)
    if new:
        terminalreporter.write_line(f"WARNING: the real home got new entries during the tests: {', '.join(new)}",
                                    yellow=True)


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_SESSION_DIR, ignore_errors=True)


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Fresh HOME, TRACKIO_DIR, WANDB_DIR … under tmp_path for one test.

    Returns the variables set; pass ``{**os.environ}`` to subprocesses.
    """
    values = _isolate(tmp_path / "env")
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def _fake_venv(target: Path) -> None:
    """A .venv whose python is this interpreter and whose install stamps are fresh."""
    bindir = target / "bin"
    bindir.mkdir(parents=True)
    real_bin = Path(sys.executable).parent
    for tool in ("python", "shellcheck", "trackio-view", "ktrack-config"):
        real = Path(sys.executable) if tool == "python" else real_bin / tool
        if real.exists():
            wrapper = bindir / tool
            wrapper.write_text(f'#!/bin/sh\nexec "{real}" "$@"\n')
            wrapper.chmod(0o755)
    (target / ".ktrack-installed").touch()
    (target / ".ktrack-test-installed").touch()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A private copy of the Kconfig tree, defconfigs, scripts and Makefile.

    ``make`` and ``python -m kconf`` can run in it without touching the
    checkout's ``.config``; its ``.venv`` runs this interpreter.
    """
    root = tmp_path / "exp"
    root.mkdir()
    for name in ("Kconfig", "Makefile", "pyproject.toml"):
        shutil.copy2(REPO_ROOT / name, root / name)
    for name in ("kconfig", "scripts"):
        shutil.copytree(REPO_ROOT / name, root / name)
    shutil.copytree(REPO_ROOT / "defconfigs", root / "defconfigs", symlinks=True)
    _fake_venv(root / ".venv")
    return root


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    # A make that runs the tests (make check) must not leak its flags into ours.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    env.update(extra or {})
    return env


@pytest.fixture
def kconf_cli(tree: Path):
    """Run ``python -m kconf ARGS`` inside the tree copy; returns CompletedProcess."""
    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kconf", *args], cwd=tree, env=_env(env),
                              capture_output=True, text=True, timeout=120)
    return run


@pytest.fixture
def make(tree: Path):
    """Run ``make ARGS`` inside the tree copy; returns CompletedProcess."""
    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["make", *args], cwd=tree, env=_env(env), capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return run
