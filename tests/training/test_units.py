"""Unit tests of the GPT-2 pieces: model, optimizers, schedules, pruning, data, launcher."""

from __future__ import annotations

import os
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from gpt2 import data
from training import launch, optim, prune
from gpt2.model import GPT, GPTConfig
from tests.training.conftest import stdlib_spec


def _tiny() -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=256, block_size=16, n_layer=2, n_head=2, n_embd=32, dropout=0.0, bias=True))


def test_model_shapes_tying_and_init() -> None:
    m = _tiny()
    x = torch.randint(0, 256, (3, 16))
    logits, loss = m(x, torch.randint(0, 256, (3, 16)))
    assert logits.shape == (3, 16, 256)
    assert m.lm_head.weight is m.wte.weight
    assert abs(loss.item() - np.log(256)) < 0.3  # near-uniform at init
    assert m.blocks[0].attn.proj.weight.std().item() < 0.02  # residual projection scaled down


def test_model_is_causal() -> None:
    m = _tiny().eval()
    x = torch.randint(0, 256, (1, 16))
    y = x.clone()
    y[0, -1] = (x[0, -1] + 1) % 256
    a, _ = m(x)
    b, _ = m(y)
    assert torch.allclose(a[0, :-1], b[0, :-1], atol=1e-5)


def test_weight_decay_groups() -> None:
    m = _tiny()
    groups = optim.param_groups(m, 0.1)
    assert all(p.dim() >= 2 for p in groups[0]["params"])
    assert all(p.dim() < 2 for p in groups[1]["params"])
    n = sum(p.numel() for g in groups for p in g["params"])
    assert n == sum(p.numel() for p in m.parameters())  # tied weight counted once
    for name in ("adamw", "adam", "sgd"):
        opt = optim.build_optimizer(m, name, 1e-3, 0.1, betas=(0.9, 0.95), momentum=0.9)
        assert opt.param_groups[1]["weight_decay"] == 0.0
    with pytest.raises(ValueError):
        optim.build_optimizer(m, "lion", 1e-3, 0.1)


def test_lr_schedules() -> None:
    kw = dict(lr=1.0, min_lr=0.1, warmup=10, max_iters=110)
    assert optim.lr_at(5, schedule="cosine", **kw) == pytest.approx(0.5)
    assert optim.lr_at(10, schedule="cosine", **kw) == pytest.approx(1.0)
    assert optim.lr_at(60, schedule="cosine", **kw) == pytest.approx(0.55)
    assert optim.lr_at(110, schedule="cosine", **kw) == pytest.approx(0.1)
    assert optim.lr_at(60, schedule="linear", **kw) == pytest.approx(0.55)
    assert optim.lr_at(100, schedule="constant", **kw) == 1.0


def test_pruning_ramps_and_masks_stay() -> None:
    m = _tiny()
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    p = prune.MagnitudePruner(m, 0.6, start_iter=2, ramp_iters=4, interval=2)
    assert "lm_head.weight" not in p.params and "wte.weight" not in p.params
    seen = []
    for it in range(1, 10):
        x = torch.randint(0, 256, (2, 16))
        m(x, x)[1].backward()
        opt.step()
        opt.zero_grad()
        p.update(it)
        p.apply()
        seen.append(p.sparsity())
    assert seen[0] == 0.0
    assert 0.25 < seen[3] < 0.35  # half-way through the ramp (iter 4)
    assert seen[-1] == pytest.approx(0.6, abs=0.01)
    assert prune.model_sparsity(m) == pytest.approx(0.6, abs=0.01)


def test_stdlib_cache_is_deterministic(corpus_dir: Path, tmp_path: Path) -> None:
    spec = stdlib_spec(300_000)
    a = data.build(spec, corpus_dir)
    assert a.parent == corpus_dir  # found, not rebuilt
    b = data.build(spec, tmp_path)
    for split in ("train", "val"):
        assert (a / f"{split}.bin").read_bytes() == (b / f"{split}.bin").read_bytes()
    td = data.TokenData(a, 32, seed=1)
    assert td.meta["tokens"]["train"] + td.meta["tokens"]["val"] == 300_000
    x, y = td.batch("train", 4)
    assert x.shape == (4, 32) and torch.equal(x[:, 1:], y[:, :-1])
    g = td.val_generator
    assert torch.equal(td.batch("val", 2, g())[0], td.batch("val", 2, g())[0])
    other = stdlib_spec(200_000)
    assert data.cache_key(other) != data.cache_key(spec)


def test_text_dataset_file_and_folder(tmp_path: Path) -> None:
    src = tmp_path / "corpus"
    src.mkdir()
    (src / "a.txt").write_text("hello world\n" * 3000)
    (src / "b.md").write_text("# title\n" * 2000)
    (src / "skip.bin").write_bytes(b"\x00" * 100)
    out = data.build(data.DataSpec("text", str(src), "byte", 0, 0.1, None), tmp_path / "c")
    meta = data.TokenData(out, 16).meta
    assert meta["tokens"]["val"] > 0 and meta["tokens"]["train"] > 0
    single = data.build(data.DataSpec("text", str(src / "a.txt"), "byte", 0, 0.05, None), tmp_path / "c")
    assert data.TokenData(single, 16).meta["documents"] >= 4
    with pytest.raises(data.DataError, match="does not exist"):
        data.check_spec(data.DataSpec("text", str(tmp_path / "missing"), "byte", 0, 0.05, None))


def test_finewebedu_loader_reads_local_parquet(tmp_path: Path) -> None:
    import datasets  # noqa: F401 - the real loader needs it
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"id": f"doc{i}", "text": f"Document {i} teaches fractions and photosynthesis. " * 20}
            for i in range(60)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "part-0.parquet")
    spec = data.DataSpec("finewebedu", str(tmp_path / "part-0.parquet"), "byte", 0, 0.1, "sample-10BT")
    out = data.build(spec, tmp_path / "cache")
    meta = data.TokenData(out, 32).meta
    assert meta["documents"] == 60
    text = bytes(np.fromfile(out / "train.bin", dtype=np.uint16).astype(np.uint8)).decode()
    assert "photosynthesis" in text
    folder_spec = data.DataSpec("finewebedu", str(tmp_path), "byte", 5000, 0.05, "sample-10BT")
    assert data.TokenData(data.build(folder_spec, tmp_path / "cache"), 32).meta["documents"] >= 1


def test_gpt2_tokenizer_when_cached(tmp_path: Path) -> None:
    import tiktoken  # noqa: F401
    cache = os.environ.get("TIKTOKEN_CACHE_DIR", "")
    if not cache or not any(Path(cache).iterdir()):  # tiktoken would download: never in tests
        pytest.skip("set TIKTOKEN_CACHE_DIR to a folder holding tiktoken's gpt2 files")
    (tmp_path / "t.txt").write_text("The quick brown fox. " * 500)
    out = data.build(data.DataSpec("text", str(tmp_path / "t.txt"), "gpt2", 0, 0.05, None),
                     tmp_path / "c")
    assert data.TokenData(out, 8).meta["vocab_size"] == 50304


def test_launch_commands() -> None:
    def ns(**values: object) -> types.SimpleNamespace:
        return types.SimpleNamespace(**{"MODEL": "gpt2", "DIST_NPROC_PER_NODE": 1, "DIST_NNODES": 1, **values})

    one = launch.build_command(ns(), extra=["--max-iters", "3"])
    assert one[1].endswith("gpt2/train.py") and one[-2:] == ["--max-iters", "3"]
    two = launch.build_command(ns(DIST_NPROC_PER_NODE=4))
    assert "--standalone" in two and "--nproc_per_node=4" in two
    multi = launch.build_command(ns(DIST_NPROC_PER_NODE=4, DIST_NNODES=2, DIST_RDZV_ENDPOINT="10.0.0.1:29400",
                                    DIST_RDZV_TIMEOUT=60))
    assert "--nnodes=2" in multi and "--rdzv_endpoint=10.0.0.1:29400" in multi
    assert "--rdzv_conf=join_timeout=60" in multi and "--max_restarts=0" in multi
    assert "--standalone" not in multi
    le = launch.build_command(ns(DIST_NPROC_PER_NODE=4), model="lenet5")  # LeNet-5 has the DDP path too
    assert le[-1].endswith("lenet5/train.py") and "--nproc_per_node=4" in le
