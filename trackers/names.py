"""The one validator of project and run names, used before anything is written.

A project names ``runs/<project>/`` and Trackio's files beside its database:
``<project>.db``, ``.db-wal``, ``.db-shm``, ``.lock`` and, while SQLite creates
the database, ``<project>.db-journal`` (Trackio keeps only ``[A-Za-z0-9_-]``
and other letters of the name, so its file names are never longer than the
name). A run names ``runs/<project>/<run>/``; Trackio keeps it in a database
column, W&B as the display name. Both must be one plain file-name component
that every tracker can store.
The API (:func:`trackers.init`), the trainers, sweeps and replay all call
:func:`check_project` and :func:`check_run`.
"""

from __future__ import annotations

#: The longest name one path component may have on Linux file systems (bytes).
NAME_MAX = 255
#: The longest suffix Trackio's SQLite adds to a project's file name. With a
#: longer name Trackio cannot create its database and stores nothing, silently.
TRACKIO_SUFFIX = len(".db-journal")
MAX_PROJECT_BYTES = NAME_MAX - TRACKIO_SUFFIX
MAX_RUN_BYTES = NAME_MAX


class BadName(ValueError):
    """A project or run name that cannot be used; the message says why and what to do."""


def _clip(value: str, keep: int = 24) -> str:
    return value if len(value) <= keep else value[:keep] + "..."


def _check(label: str, value: object, max_bytes: int, why: str = "") -> str:
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
        raise BadName(f"{label} {_clip(value)!r} is {size} bytes long; the longest allowed is {max_bytes} bytes"
                      f"{why}; shorten it")
    return value


def check_project(name: object) -> str:
    """Return ``name`` if it can be a project name; raise :class:`BadName` saying why not."""
    return _check("project", name, MAX_PROJECT_BYTES,
                  " (Trackio stores <project>.db-journal beside its database)")


def check_run(name: object) -> str:
    """Return ``name`` if it can be a run name; raise :class:`BadName` saying why not."""
    return _check("run name", name, MAX_RUN_BYTES, " (one folder name under runs/<project>/)")
