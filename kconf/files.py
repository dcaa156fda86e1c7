"""Writing configuration files: atomically, only on change, with ordinary modes, one-line errors.

Every file kconf writes (``.config``, ``.config.old``, the generated files, a
run's ``.config`` and ``defconfig``) goes through :func:`write_if_changed`. A
new file gets the mode ``open()`` would give it (0666 less the umask); a file
that is replaced keeps its mode. Any failure (full disk, read-only or
immutable file or folder, a directory in the way) is a :class:`ConfigError`
saying which file and what to do, and the old file is left as it was.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from kconf.errors import ConfigError


def _umask() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def new_file_mode() -> int:
    """The mode a newly created file gets: 0666 less the process umask."""
    return 0o666 & ~_umask()


def _advice(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC or exc.errno == errno.EDQUOT:
        return "free some space there and run it again"
    if exc.errno in (errno.EPERM, errno.EACCES, errno.EROFS):
        return "make the file and its folder writable (see 'lsattr' for an immutable one) or use another path"
    if exc.errno == errno.EISDIR:
        return "name a file, not a directory"
    return "check the path and run it again"


#: How long a command waits for another one that holds the configuration's lock.
LOCK_WAIT_S = 120.0


@contextlib.contextmanager
def config_lock(config: str | os.PathLike[str], wait: float = LOCK_WAIT_S) -> Iterator[None]:
    """Hold an exclusive ``flock`` on the folder that holds ``config`` for the block.

    Commands that write a configuration and the files generated from it hold
    it from reading to the last file written, so two ``make defconfig`` in one
    checkout run one after the other and leave ``.config`` and the generated
    files describing the same experiment. The folder itself is locked, so no
    lock file is left anywhere, and the kernel drops the lock when a process
    ends, however it ends. Where the folder cannot be opened or locked (it is
    missing; a network file system without ``flock``) the block runs unlocked.
    Raises ConfigError after ``wait`` seconds of waiting.
    """
    folder = Path(config).absolute().parent
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        yield
        return
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ConfigError(f"{config} has been in use by another command for {wait:g}s ({folder} is "
                                      "locked); run this again once that one has finished") from None
                time.sleep(0.02)
            except OSError:  # no flock here (some network file systems): as before, unlocked
                break
        yield
    finally:
        os.close(fd)


def write_error(path: str | os.PathLike[str], exc: OSError) -> ConfigError:
    """A one-line ConfigError for a failed write of ``path``."""
    reason = exc.strerror or str(exc)
    return ConfigError(f"cannot write {path}: {reason}; {_advice(exc)}")


def check_is_file(path: str | os.PathLike[str], what: str = "configuration") -> None:
    """Raise ConfigError when ``path`` is a directory (``KCONFIG_CONFIG=/tmp``, say)."""
    if Path(path).is_dir():
        raise ConfigError(f"{path} is a directory, not a {what} file; name a file "
                          f"(KCONFIG_CONFIG=path/to/.config)")


def check_writable(path: str | os.PathLike[str]) -> None:
    """Raise ConfigError when ``path`` exists without any write permission bit (the user made it read-only)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise write_error(path, exc) from None
    if stat.S_ISREG(mode) and not mode & 0o222:
        raise ConfigError(f"{path} is read-only (mode {stat.S_IMODE(mode):04o}); "
                          f"make it writable (chmod u+w {path}) or name another file with KCONFIG_CONFIG")


def read_text(path: str | os.PathLike[str]) -> str | None:
    """The text of ``path``, or None when it is missing or unreadable."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _prepare(path: Path, text: str) -> str:
    """Write ``text`` to a temporary file beside ``path`` with the mode ``path`` will have; return its name."""
    check_is_file(path, "regular")
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = new_file_mode()
    except OSError as exc:
        raise write_error(path, exc) from None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise write_error(path, exc) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise write_error(path, exc) from None
        raise
    return tmp


def write_all_if_changed(outputs: dict[Path, str]) -> list[Path]:
    """Write every ``path: text`` whose content changed, all or none; return the paths written.

    Each new content first goes to a temporary file beside its target; only
    when all of them are written are they renamed into place, so a full disk
    or a read-only folder leaves every file as it was. Raises ConfigError.
    """
    pending: list[tuple[str, Path]] = []
    try:
        for path, text in outputs.items():
            if read_text(path) != text:
                pending.append((_prepare(Path(path), text), Path(path)))
        for tmp, path in pending:
            try:
                os.replace(tmp, path)
            except OSError as exc:
                raise write_error(path, exc) from None
    finally:
        for tmp, _ in pending:
            Path(tmp).unlink(missing_ok=True)
    return [path for _, path in pending]


def write_if_changed(path: str | os.PathLike[str], text: str) -> bool:
    """Atomically write ``text`` to ``path`` unless it already holds it; True if written.

    The folder is created when missing; the file keeps its mode when it is
    replaced. Raises ConfigError (one line) when anything cannot be written.
    """
    return bool(write_all_if_changed({Path(path): text}))
