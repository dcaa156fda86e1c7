"""The one validator of project and run names, used before anything is written.

A project names ``runs/<project>/`` and Trackio's files beside its database:
``<project>.db``, ``.db-wal``, ``.db-shm``, ``.lock`` and, while SQLite creates
the database, ``<project>.db-journal``. A run names ``runs/<project>/<run>/``;
Trackio keeps it in a database column, W&B as the display name. Both must be
one plain file-name component that every tracker can store.

A name is accepted only when every tracker stores it under that very name, so
no two names ever meet in one store:

* Trackio names a project's files by :func:`trackio_file_name` (letters,
  digits, ``-`` and ``_`` only: ``my.model`` and ``mymodel`` would share
  ``mymodel.db``), so a project must already be that name. This holds
  whichever trackers a run enables: ``trackio-view`` and the journal mirror
  name projects the same way, and a later run of the project may enable
  Trackio. With Trackio enabled, the names Trackio itself refuses
  (``registry-…``, ``…_system`` and the other side-file suffixes) are refused too.
* With W&B enabled, a project has at most 128 characters (W&B refuses longer
  ones; the characters it refuses, ``/ \\ # ? % :``, Trackio's rule refuses already).

:func:`trackers.init`, ``make defconfig``, the trainers, sweeps and replay all
call :func:`check_project` and :func:`check_run`.
"""

from __future__ import annotations

from collections.abc import Iterable

#: The longest name one path component may have on Linux file systems (bytes).
NAME_MAX = 255
#: The longest suffix Trackio's SQLite adds to a project's file name. With a
#: longer name Trackio cannot create its database and stores nothing, silently.
TRACKIO_SUFFIX = len(".db-journal")
MAX_PROJECT_BYTES = NAME_MAX - TRACKIO_SUFFIX
MAX_RUN_BYTES = NAME_MAX
#: Trackio's own refusals (``SQLiteStorage.validate_project_name``): a prefix kept for its
#: registries, and suffixes of the side files it writes beside another project's database.
TRACKIO_RESERVED_PREFIX = "registry-"
TRACKIO_RESERVED_SUFFIXES = ("_system", "_configs", "_traces", "_artifacts", "_artifact_versions",
                             "_artifact_aliases", "_run_artifact_links", "_external_run_artifact_links")
#: W&B's longest project name (``wandb.Settings.validate_project``).
WANDB_PROJECT_MAX = 128


class BadName(ValueError):
    """A project or run name that cannot be used; the message says why and what to do."""


def trackio_file_name(project: str) -> str:
    """The stem of the files Trackio keeps ``project`` in (``trackio.utils.canonical_project_name``):
    only letters, digits, ``-`` and ``_`` are kept; ``default`` when nothing is left."""
    return "".join(c for c in project if c.isalnum() or c in "-_").rstrip() or "default"


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
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadName(f"{label} {shown!r} is not valid UTF-8 text (a lone surrogate); no tracker stores it") from None
    return value


def check_project(name: object, trackers: Iterable[str] = ()) -> str:
    """Return ``name`` if it can be a project name with the enabled ``trackers``; raise :class:`BadName` if not."""
    project = _check("project", name, MAX_PROJECT_BYTES, " (Trackio stores <project>.db-journal beside its database)")
    stem = trackio_file_name(project)
    if stem != project:
        raise BadName(f"project {_clip(project, 40)!r} would be kept in Trackio's file {_clip(stem, 40)}.db, the "
                      f"file of project {_clip(stem, 40)!r}; use only letters, digits, '-' and '_' "
                      f"(e.g. {_clip(stem, 40)!r})")
    enabled = set(trackers)
    if "trackio" in enabled:
        if project.startswith(TRACKIO_RESERVED_PREFIX):
            raise BadName(f"project {_clip(project, 40)!r}: Trackio keeps names starting with "
                          f"{TRACKIO_RESERVED_PREFIX!r} for its registries; choose another name")
        for suffix in TRACKIO_RESERVED_SUFFIXES:
            if project.endswith(suffix) and len(project) > len(suffix):
                raise BadName(f"project {_clip(project, 40)!r}: Trackio writes files ending in {suffix!r} for "
                              f"project {_clip(project[:-len(suffix)], 40)!r}; choose a name not ending in {suffix!r}")
    if "wandb" in enabled and len(project) > WANDB_PROJECT_MAX:
        raise BadName(f"project {_clip(project)!r} has {len(project)} characters; W&B takes at most "
                      f"{WANDB_PROJECT_MAX}; shorten it")
    return project


def check_run(name: object) -> str:
    """Return ``name`` if it can be a run name; raise :class:`BadName` saying why not.

    No tracker renames a run: Trackio keeps it in a column, W&B as the display
    name, TensorBoard by the run's folder; the folder name sets the rules.
    """
    return _check("run name", name, MAX_RUN_BYTES, " (one folder name under runs/<project>/)")
