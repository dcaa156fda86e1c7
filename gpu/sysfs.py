"""The one place where GPU code touches the file system.

Every path is given as an absolute Linux path (``/sys/class/drm/card0``) and is
resolved under the root named by ``KTRACK_SYSFS_ROOT`` (default ``/``), read at
call time so tests can point the real reading code at fake trees.  Readers
never raise: a missing, empty, unreadable or garbage file gives ``None``.
"""
from __future__ import annotations

import os

_ENV = "KTRACK_SYSFS_ROOT"


def root() -> str:
    """Return the current sysfs root (``KTRACK_SYSFS_ROOT``, default ``/``)."""
    return os.environ.get(_ENV) or "/"


def resolve(path: str) -> str:
    """Map an absolute Linux path onto the current root."""
    r = root()
    if r == "/":
        return path
    return r.rstrip("/") + "/" + path.lstrip("/")


def read(path: str) -> str | None:
    """Return the stripped text of ``path`` under the root, or ``None``.

    ``None`` when the file is missing, empty, a directory, unreadable
    (permission denied, EIO from a sleeping device) or not valid text.
    This is the only function in ``gpu/`` that opens a file.
    """
    try:
        fd = os.open(resolve(path), os.O_RDONLY)
    except OSError:
        return None
    try:
        data = os.read(fd, 65536)
    except OSError:
        return None
    finally:
        os.close(fd)
    try:
        text = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        return None
    return text or None


def read_int(path: str) -> int | None:
    """Read an integer file (decimal or ``0x`` hex); ``None`` on garbage."""
    text = read(path)
    if text is None:
        return None
    try:
        return int(text.split()[0], 0)
    except (ValueError, IndexError):
        return None


def read_float(path: str) -> float | None:
    """Read a number file as float; ``None`` on garbage."""
    text = read(path)
    if text is None:
        return None
    try:
        return float(text.split()[0])
    except (ValueError, IndexError):
        return None


def listdir(path: str) -> list[str]:
    """Sorted entries of a directory under the root; ``[]`` when unreadable."""
    try:
        return sorted(os.listdir(resolve(path)))
    except OSError:
        return []


def entries(path: str) -> list[str] | None:
    """Entries of a directory under the root, or ``None`` when unreadable."""
    try:
        return os.listdir(resolve(path))
    except OSError:
        return None


def isdir(path: str) -> bool:
    """Whether ``path`` under the root is a directory."""
    return os.path.isdir(resolve(path))


def exists(path: str) -> bool:
    """Whether ``path`` exists under the root."""
    return os.path.exists(resolve(path))


def readlink(path: str) -> str | None:
    """Target of a symlink under the root, or ``None``."""
    try:
        return os.readlink(resolve(path))
    except OSError:
        return None
