"""The one validator of project and run names, used before anything is written.

A project names ``runs/<project>/`` and Trackio's ``<project>.db`` (plus its
``-wal``/``-shm`` and lock files); a run names ``runs/<project>/<run>/``. Both
must therefore be one plain file-name component that every tracker can store.
The API (:func:`trackers.init`), the trainers, sweeps and replay all call
:func:`check_project` and :func:`check_run`.
"""

from __future__ import annotations

#: The longest name one path component may have on Linux file systems (bytes).
NAME_MAX = 255
#: Trackio adds at most this many bytes to a project name (``<project>.db-wal``).
TRACKIO_SUFFIX = len(".db-wal")
MAX_PROJECT_BYTES = NAME_MAX - TRACKIO_SUFFIX
MAX_RUN_BYTES = NAME_MAX


class BadName(ValueError):
    """A project or run name that cannot be used; the message says why and what to do."""


def _check(label: str, value: object, max_bytes: int) -> str:
    if not isinstance(value, str) or not value:
        raise BadName(f"the {label} is empty; give a plain name such as 'experiment-1'")
    shown = value if value.isprintable() else repr(value)
    if value != value.strip():
        raise BadName(f"{label} {shown!r} starts or ends with white space; remove it")
    if "/" in value or "\\" in value:
        raise BadName(f"{label} {shown!r} cannot contain '/' or '\\'; choose a plain name")
    if value.startswith("."):
        raise BadName(f"{label} {shown!r} cannot start with '.'; choose a plain name")
    if not value.isprintable():
        raise BadName(f"{label} {shown} contains control characters; use letters, digits, '-', '_', '=' or ','")
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise BadName(f"{label} is {size} bytes long; the longest allowed is {max_bytes} bytes")
    return value


def check_project(name: object) -> str:
    """Return ``name`` if it can be a project name; raise :class:`BadName` saying why not."""
    return _check("project", name, MAX_PROJECT_BYTES)


def check_run(name: object) -> str:
    """Return ``name`` if it can be a run name; raise :class:`BadName` saying why not."""
    return _check("run name", name, MAX_RUN_BYTES)
