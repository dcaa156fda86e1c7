"""``<model>-<checksum>`` project names, identical to scripts/generate-project-name.sh.

The checksum is the first 5 hex digits of the MD5 of the line
``<short hostname>-<first IPv4 with dots as dashes>-<directory name>\\n``: the
string ``echo "$HOST-$IP-$DIR" | md5sum`` hashes. Addresses are read from the
local interfaces (``hostname -I``, then ``ip -4 addr``); no socket is opened.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import os
import re
import socket
import subprocess
from pathlib import Path

_NO_ADDRESS = "0.0.0.0"

#: Symbols whose Kconfig default is ``$(project-name,…)``: it differs per machine and
#: checkout, so a run restored elsewhere keeps its recorded value without that counting as a change.
MACHINE_DEFAULTS = frozenset({"TRACKER_PROJECT"})


def clean_model(model: str) -> str:
    """Return ``model`` reduced to ``[A-Za-z0-9-]``."""
    return re.sub(r"[^A-Za-z0-9-]", "", model)


def short_hostname() -> str:
    """Return the host name up to its first dot (``hostname -s``)."""
    return socket.gethostname().split(".")[0]


def _run(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=5, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def _is_ipv4(token: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(token), ipaddress.IPv4Address)
    except ValueError:
        return False


@functools.lru_cache(maxsize=1)
def first_ipv4() -> str:
    """Return the first IPv4 address of this host's interfaces, or ``0.0.0.0``.

    Same order as the shell script: the first IPv4 of ``hostname -I``, else the
    first global address of ``ip -4 -o addr show scope global``. Read once per
    process: each parse of the Kconfig tree asks once per model, and a
    subprocess each time would make loading a configuration slow.
    """
    for token in _run(["hostname", "-I"]).split():
        if _is_ipv4(token):
            return token
    for line in _run(["ip", "-4", "-o", "addr", "show", "scope", "global"]).splitlines():
        match = re.search(r"\binet (\d+\.\d+\.\d+\.\d+)/", line)
        if match:
            return match.group(1)
    return _NO_ADDRESS


def checksum_input(directory: str | os.PathLike[str] | None = None) -> str:
    """Return the line that is hashed (with its trailing newline)."""
    dirname = Path(directory if directory is not None else os.getcwd()).resolve().name
    ip = first_ipv4().replace(".", "-")
    return f"{short_hostname()}-{ip}-{dirname}\n"


def project_name(model: str, directory: str | os.PathLike[str] | None = None) -> str:
    """Return ``<model>-xxxxx`` for this machine and ``directory`` (default: cwd).

    Raises ValueError when ``model`` is empty after cleaning.
    """
    cleaned = clean_model(model)
    if not cleaned:
        raise ValueError(f"invalid model name {model!r}: use letters, digits and '-'")
    digest = hashlib.md5(checksum_input(directory).encode()).hexdigest()
    return f"{cleaned}-{digest[:5]}"
