"""Token data for the GPT-2 trainer: build once, cache, memory-map.

Three sources, chosen by ``DATASET``:

- ``stdlib``: the running Python's own standard-library ``.py`` files
  (``sysconfig.get_paths()['stdlib']``), sorted by relative path, so every
  machine has a corpus without downloading anything.
- ``text``: any local file or folder (``DATASET_PATH``); folders are read
  recursively in sorted order (text-like suffixes only).
- ``finewebedu``: FineWeb-Edu through Hugging Face ``datasets``; a local
  parquet file or folder in ``DATASET_PATH`` is read instead of the hub.

Documents are assigned to train or validation by a hash of their name or
index (deterministic, independent of the cap), tokenised with the byte
tokenizer (vocab 256) or GPT-2 BPE via ``tiktoken`` (vocab 50257), and written
as ``uint16`` to ``<DATASET_DIR>/<source>-<hash>/{train,val}.bin`` where the
hash covers every setting that changes the tokens. Writes are atomic, so
several ranks may build the same cache at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import sysconfig
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

TEXT_SUFFIXES = {".txt", ".md", ".rst", ".py", ".c", ".h", ".json", ".csv", ".html", ".tex", ""}
_CACHE_VERSION = 1


class DataError(ValueError):
    """A user mistake in the dataset settings (one-line message)."""


@dataclass(frozen=True)
class DataSpec:
    """Everything that decides the cached tokens (from the DATASET* and TOKENIZER Kconfig symbols).

    ``path`` and ``fineweb_name`` are None where the dataset has none (the
    configuration leaves those symbols out).
    """

    dataset: str
    path: str | None
    tokenizer: str
    max_tokens: int
    val_fraction: float
    fineweb_name: str | None


def spec_from(settings: Any) -> DataSpec:
    """The data a resolved configuration (:class:`training.settings.Settings`) asks for."""
    return DataSpec(dataset=settings["DATASET"], path=settings.optional("DATASET_PATH"),
                    tokenizer=settings["TOKENIZER"], max_tokens=settings["DATASET_MAX_TOKENS"],
                    val_fraction=settings["DATASET_VAL_FRACTION"],
                    fineweb_name=settings.optional("DATASET_FINEWEBEDU_NAME"))


def vocab_size(tokenizer: str) -> int:
    """Vocabulary size of a tokenizer (GPT-2's padded to a multiple of 64)."""
    return 256 if tokenizer == "byte" else 50304


def _encoder(tokenizer: str):
    if tokenizer == "byte":
        return lambda s: list(s.encode("utf-8", errors="replace")), None
    if tokenizer == "gpt2":
        try:
            import tiktoken
        except ImportError as exc:
            raise DataError("TOKENIZER=gpt2 needs tiktoken: pip install tiktoken") from exc
        enc = tiktoken.get_encoding("gpt2")
        return (lambda s: enc.encode_ordinary(s)), enc.eot_token
    raise DataError(f"unknown tokenizer {tokenizer!r}: use byte or gpt2")


def _is_val(key: str, fraction: float) -> bool:
    return (zlib.crc32(key.encode()) % 10_000) < fraction * 10_000


def _stdlib_docs() -> Iterator[tuple[str, str]]:
    root = Path(sysconfig.get_paths()["stdlib"])
    files = [
        p for p in root.rglob("*.py")
        if "site-packages" not in p.parts and "dist-packages" not in p.parts
    ]
    for p in sorted(files, key=lambda q: q.relative_to(root).as_posix()):
        try:
            yield p.relative_to(root).as_posix(), p.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue


def _text_docs(path: str) -> Iterator[tuple[str, str]]:
    root = Path(path)
    if root.is_file():
        text = root.read_text(encoding="utf-8", errors="replace")
        # a single file is cut into 8 KiB pieces so it can be split
        for i in range(0, max(len(text), 1), 8192):
            yield f"{root.name}:{i}", text[i : i + 8192]
        return
    for p in sorted(root.rglob("*"), key=lambda q: q.as_posix()):
        if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES:
            yield p.relative_to(root).as_posix(), p.read_text(encoding="utf-8", errors="replace")


def _finewebedu_docs(spec: DataSpec) -> Iterator[tuple[str, str]]:
    try:
        import datasets
    except ImportError as exc:
        raise DataError("DATASET=finewebedu needs Hugging Face datasets: pip install datasets") from exc
    if spec.path:
        p = Path(spec.path)
        files = sorted(str(f) for f in p.rglob("*.parquet")) if p.is_dir() else [str(p)]
        ds = datasets.load_dataset("parquet", data_files=files, split="train", streaming=True)
    else:  # the real thing: streamed from the hub
        ds = datasets.load_dataset(
            "HuggingFaceFW/fineweb-edu", name=spec.fineweb_name, split="train", streaming=True
        )
    for i, row in enumerate(ds):
        yield str(row.get("id") or i), row["text"]


def check_spec(spec: DataSpec) -> None:
    """Raise ``DataError`` for data that cannot be read, before any work starts.

    The values themselves (dataset, tokenizer, fraction, cap) are the
    configuration's, checked by Kconfig; this checks the files.
    """
    if spec.dataset == "text" and not spec.path:
        raise DataError("DATASET=text needs DATASET_PATH (a local file or folder)")
    if spec.path and not Path(spec.path).exists():
        raise DataError(f"dataset path {spec.path!r} does not exist: set DATASET_PATH to a local file or folder")


def cache_key(spec: DataSpec) -> str:
    """Short hash of the settings (and the source's identity) naming the cache."""
    ident: dict = {"v": _CACHE_VERSION, **asdict(spec)}
    if spec.dataset == "stdlib":
        ident["stdlib"] = sysconfig.get_paths()["stdlib"]
        ident["python"] = sysconfig.get_python_version()
    elif spec.path:
        st = Path(spec.path).stat()
        ident["path"] = str(Path(spec.path).resolve())
        ident["mtime"] = st.st_mtime_ns
    return hashlib.sha1(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:10]


def _docs(spec: DataSpec) -> Iterator[tuple[str, str]]:
    if spec.dataset == "stdlib":
        return _stdlib_docs()
    if spec.dataset == "text":
        return _text_docs(str(spec.path))
    return _finewebedu_docs(spec)


def _write_atomic(path: Path, arr: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    arr.tofile(tmp)
    os.replace(tmp, path)


def build(spec: DataSpec, cache_dir: str | os.PathLike) -> Path:
    """Build (or find) the token cache for ``spec``; return its folder."""
    check_spec(spec)
    out = Path(cache_dir) / f"{spec.dataset}-{spec.tokenizer}-{cache_key(spec)}"
    if (out / "meta.json").exists():
        return out
    encode, eot = _encoder(spec.tokenizer)
    sep = [eot] if eot is not None else list(b"\n\n")
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": []}
    total = 0
    docs = 0
    for key, text in _docs(spec):
        toks = np.asarray(encode(text) + sep, dtype=np.uint16)
        if spec.max_tokens and total + len(toks) > spec.max_tokens:
            toks = toks[: spec.max_tokens - total]
        parts["val" if _is_val(key, spec.val_fraction) else "train"].append(toks)
        total += len(toks)
        docs += 1
        if spec.max_tokens and total >= spec.max_tokens:
            break
    out.mkdir(parents=True, exist_ok=True)
    arrays = {s: np.concatenate(c) if c else np.zeros(0, dtype=np.uint16) for s, c in parts.items()}
    if not arrays["val"].size or not arrays["train"].size:  # too few documents to split by hash
        both = np.concatenate([arrays["train"], arrays["val"]])
        cut = int(len(both) * (1.0 - spec.val_fraction))
        arrays = {"train": both[:cut], "val": both[cut:]}
    counts = {}
    for split, arr in arrays.items():
        _write_atomic(out / f"{split}.bin", arr)
        counts[split] = int(arr.size)
    meta = {"spec": asdict(spec), "documents": docs, "tokens": counts,
            "vocab_size": vocab_size(spec.tokenizer)}
    tmp = out / f".meta.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(meta, indent=2))
    os.replace(tmp, out / "meta.json")
    return out


class TokenData:
    """Memory-mapped train/val tokens with random-window batches per rank.

    Each rank draws from its own generator (seeded with ``seed`` and ``rank``),
    so ranks see different batches, like a ``DistributedSampler``. Validation
    batches are fixed (reseeded at every evaluation) so losses are comparable.
    """

    def __init__(self, folder: Path, block_size: int, seed: int = 0, rank: int = 0) -> None:
        self.folder = folder
        self.meta = json.loads((folder / "meta.json").read_text())
        self.block_size = block_size
        self.rank = rank
        self.seed = seed
        self.splits = {s: np.memmap(folder / f"{s}.bin", dtype=np.uint16, mode="r")
                       if self.meta["tokens"][s] else np.zeros(0, dtype=np.uint16)
                       for s in ("train", "val")}
        self.gen = torch.Generator().manual_seed(seed * 1000 + rank)

    def check(self) -> None:
        """Raise ``DataError`` when a split has no room for one block."""
        for split, arr in self.splits.items():
            if len(arr) <= self.block_size + 1:
                raise DataError(
                    f"{split} split has {len(arr)} tokens, not more than block size "
                    f"{self.block_size}: lower GPT2_BLOCK_SIZE or raise DATASET_MAX_TOKENS"
                )

    def batch(self, split: str, batch_size: int, gen: torch.Generator | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, y)`` int64 tensors of shape (batch_size, block_size)."""
        arr = self.splits[split]
        ix = torch.randint(len(arr) - self.block_size - 1, (batch_size,), generator=gen or self.gen)
        x = np.stack([arr[i : i + self.block_size] for i in ix.tolist()]).astype(np.int64)
        y = np.stack([arr[i + 1 : i + 1 + self.block_size] for i in ix.tolist()]).astype(np.int64)
        return torch.from_numpy(x), torch.from_numpy(y)

    def val_generator(self) -> torch.Generator:
        """A fresh generator giving this rank the same validation batches every time."""
        return torch.Generator().manual_seed(10_007 + self.rank)
