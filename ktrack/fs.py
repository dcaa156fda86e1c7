"""Is a folder on a network filesystem? ``statfs(2)``'s ``f_type``, the one place that knows.

SQLite in WAL mode keeps its index in shared memory (a ``-shm`` file mapped
by every process) that NFS, Lustre, GPFS, SMB... do not keep coherent:
Trackio's database there raises SIGBUS or corrupts (trackio issues #555,
#133). The callers decide what to do; this module only names the filesystem.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path

#: ``f_type`` magic numbers (linux/magic.h and each filesystem's source) of filesystems shared over a network.
NETWORK_FS: dict[int, str] = {
    0x6969: "nfs",
    0x0BD00BD0: "lustre",
    0x47504653: "gpfs",
    0xFF534D42: "cifs",
    0xFE534D42: "smb2",
    0x517B: "smb",
    0x19830326: "beegfs",
    0x00C36400: "cephfs",
    0x5346414F: "afs",
    0x6B414653: "afs",
    0x01021997: "9p",
    0x7461636F: "ocfs2",
    0xAAD7AAEA: "panfs",
    0x013111A8: "ibrix",
    0x564C: "ncp",
}
_STATFS_BUF = 256  # larger than struct statfs on every Linux ABI; f_type is its first field (a long)


def network_fs_name(f_type: int) -> str | None:
    """The network filesystem with magic number ``f_type`` (``"nfs"``, ``"lustre"``...), None for a local one."""
    return NETWORK_FS.get(f_type & 0xFFFFFFFF)


def statfs_type(path: str | os.PathLike[str]) -> int | None:
    """``f_type`` of the filesystem holding ``path`` (its nearest existing folder); None where statfs is missing."""
    probe = Path(path).absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        buf = ctypes.create_string_buffer(_STATFS_BUF)
        if libc.statfs(os.fsencode(probe), buf) != 0:
            return None
    except (OSError, AttributeError):  # not Linux/glibc: no statfs to ask
        return None
    return int(ctypes.c_long.from_buffer(buf).value)


def network_fs(path: str | os.PathLike[str]) -> str | None:
    """The network filesystem ``path`` is on, None when it is local or cannot be told."""
    f_type = statfs_type(path)
    return None if f_type is None else network_fs_name(f_type)
