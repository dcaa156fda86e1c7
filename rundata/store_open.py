"""Finding Trackio's databases, and opening one for reading without ever writing beside it.

SQLite opens a WAL database read-only (``mode=ro``) only with its ``-wal``
and ``-shm`` files, and creates them when they are missing.  A live Trackio
writer keeps both files, so then ``mode=ro`` creates nothing.  Without them
(a copied file, a finished run, a read-only folder) no writer is active and
the file is opened ``immutable=1``: no locks, no side files.  Should a writer
start meanwhile, :class:`Stamp` notices (the side files appear, or the file
changes) and the caller reconnects and reads again.
"""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import NamedTuple

from ktrack.names import trackio_file_name

KNOWN_SCHEMA = 2  # Trackio 0.43.0 to 0.45.1 write PRAGMA user_version = 2 (the same tables)
_HEADER = b"SQLite format 3\x00"
_WAL_VERSION = 2  # header bytes 18-19 (write/read format version) in WAL mode


def data_dir(explicit: str | None = None) -> tuple[Path, str]:
    """The Trackio data directory, resolved as Trackio does, and where it came from.

    Order: ``explicit`` (``--dir``), ``TRACKIO_DIR``, ``HF_HOME/trackio``,
    ``XDG_CACHE_HOME/huggingface/trackio``, ``~/.cache/huggingface/trackio``.
    """
    if explicit:
        return Path(explicit).expanduser(), "--dir"
    if os.environ.get("TRACKIO_DIR"):
        return Path(os.environ["TRACKIO_DIR"]).expanduser(), "TRACKIO_DIR"
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "trackio", "HF_HOME"
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "huggingface" / "trackio", "XDG_CACHE_HOME"
    return Path.home() / ".cache" / "huggingface" / "trackio", "default"



def db_path(project: str, root: Path | None = None) -> Path:
    """Path of ``project``'s database in ``root`` (default: :func:`data_dir`)."""
    return (root or data_dir()[0]) / f"{trackio_file_name(project)}.db"


def project_files(root: Path) -> dict[str, Path]:
    """Map project name (the file stem, as Trackio names it) to its ``.db``."""
    try:
        return {p.stem: p for p in sorted(root.glob("*.db"))
                if p.is_file() and not p.stem.startswith("registry-")}
    except OSError:
        return {}


class StoreError(Exception):
    """A data problem worth one line to the user (bad file, unknown schema...)."""


class Stamp(NamedTuple):
    """What the file and its side files looked like when a connection was opened."""

    ino: int
    dev: int
    size: int
    mtime_ns: int
    wal: bool
    shm: bool

    @classmethod
    def of(cls, path: Path) -> "Stamp":
        """Stat ``path`` and look for its ``-wal``/``-shm`` files."""
        st = os.stat(path)
        return cls(st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns,
                   os.path.exists(f"{path}-wal"), os.path.exists(f"{path}-shm"))


def _is_wal(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(20)
    return head.startswith(_HEADER) and len(head) == 20 and head[18] == _WAL_VERSION


def connect(path: Path) -> tuple[sqlite3.Connection, Stamp, bool]:
    """Open ``path`` read-only; returns the connection, its stamp and whether it is immutable.

    Raises StoreError (one line) for a file that is empty, not SQLite, not a
    Trackio database or of a newer schema than this viewer reads.
    """
    try:
        stamp = Stamp.of(path)
        if stamp.size == 0:
            raise StoreError(f"{path} is empty, not a Trackio database")
        immutable = _is_wal(path) and not (stamp.wal and stamp.shm)
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        conn = _open(path, immutable)
    except sqlite3.DatabaseError as exc:
        if immutable:
            raise StoreError(f"{path} is not a readable SQLite database ({exc})") from None
        try:  # e.g. side files that cannot be used in a read-only folder
            conn, immutable = _open(path, True), True
        except sqlite3.DatabaseError:
            raise StoreError(f"{path} is not a readable SQLite database ({exc})") from None
    return conn, stamp, immutable


def _open(path: Path, immutable: bool) -> sqlite3.Connection:
    flags = "mode=ro&immutable=1" if immutable else "mode=ro"
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?{flags}", uri=True, timeout=5.0,
                           check_same_thread=False, isolation_level=None)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError:
        conn.close()
        raise
    if "metrics" not in tables:
        conn.close()
        raise StoreError(f"{path} is not a Trackio database (no metrics table)")
    if version > KNOWN_SCHEMA:
        conn.close()
        raise StoreError(f"{path} has Trackio schema version {version}; this viewer reads "
                         f"versions 0-{KNOWN_SCHEMA} (Trackio 0.43 to 0.45), upgrade ktrack")
    return conn
