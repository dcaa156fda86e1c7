"""The parquet table: schema, checks, incremental writes."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

import numerics
from numerics.schema import HIST_COLUMNS, META_COLUMNS, to_tandv
from numerics.stats import SCALAR_STATS, tensor_stats
from numerics.writer import TableWriter

from tests.numerics.conftest import train


def _rows(step: int, n: int = 3):
    meta = [(step, f"m{i}", "activation", "", "Linear", "float32") for i in range(n)]
    vals = np.stack([tensor_stats(torch.randn(50) * (i + 1)) for i in range(n)])
    return meta, vals


def test_schema_columns_in_order():
    names = numerics.arrow_schema().names
    assert names[:6] == list(META_COLUMNS) == ["step", "module", "kind", "state", "type", "dtype"]
    assert names[6:8] == ["numel", "sampled"]
    assert names[8:16] == list(SCALAR_STATS)
    assert names[16] == "exp_underflow" and names[17] == "exp_-149" and names[-2] == "exp_127"
    assert names[-1] == "exp_overflow" and len(names) == 16 + len(HIST_COLUMNS)


def test_each_flush_is_a_readable_part(tmp_path):
    w = TableWriter(tmp_path / "numerics.parquet")
    w.add(*_rows(0))
    w.flush()
    w.add(*_rows(1))
    w.flush()
    w.add(*_rows(2))  # buffered, then "crash": never closed
    df = numerics.read_table(tmp_path)
    assert sorted(df["step"].unique()) == [0, 1] and len(df) == 6
    w.close()
    parts = list((tmp_path / "numerics.parquet").iterdir())
    assert len(parts) == 1 and parts[0].name.startswith("data-")
    assert len(numerics.read_table(tmp_path)) == 9


def test_duplicate_rows_after_interrupted_compaction_are_dropped(tmp_path):
    d = tmp_path / "numerics.parquet"
    w = TableWriter(d)
    w.add(*_rows(0))
    w.flush()
    part = next(d.iterdir())
    (d / "data-1-000.parquet").write_bytes(part.read_bytes())
    assert len(numerics.read_table(d)) == 3


def _write_bad(tmp_path, mutate):
    w = TableWriter(tmp_path / "numerics.parquet")
    w.add(*_rows(0))
    path = w.flush()
    table = mutate(pq.read_table(path))
    pq.write_table(table, path)
    return tmp_path


def test_missing_column_is_named(tmp_path):
    d = _write_bad(tmp_path, lambda t: t.drop_columns(["rms"]))
    with pytest.raises(numerics.SchemaError, match=r"^column 'rms' is missing in .*part-"):
        numerics.read_table(d)


def test_wrong_type_is_named(tmp_path):
    def mutate(t):
        i = t.schema.get_field_index("step")
        return t.set_column(i, "step", pa.array([str(v) for v in t["step"].to_pylist()]))

    d = _write_bad(tmp_path, mutate)
    with pytest.raises(numerics.SchemaError, match="column 'step' .* has type string, expected int64"):
        numerics.read_table(d)


def test_foreign_parquet_file_is_rejected(tmp_path):
    f = tmp_path / "other.parquet"
    pq.write_table(pa.table({"a": [1, 2]}), f)
    with pytest.raises(ValueError, match="column 'step' is missing"):
        numerics.read_table(f)


def test_missing_table_message(tmp_path):
    with pytest.raises(FileNotFoundError, match="^no numerics table"):
        numerics.read_table(tmp_path)


def test_tandv_layout(tiny, tmp_path):
    opt = torch.optim.Adam(tiny.parameters())
    with numerics.track(tiny, opt, out_dir=tmp_path, interval=1, kinds="activation,weight_grad,optimizer_state") as t:
        train(tiny, opt, t, 1)
    tv = to_tandv(numerics.read_table(tmp_path))
    assert set(tv.columns.get_level_values(0)) == {"metadata", "scalar_stats", "exponent_counts"}
    assert set(tv["metadata"].columns) == {"name", "type", "tensor_type", "step", "dtype"}
    assert {"-inf", "+inf", "0", "-149"} <= set(tv["exponent_counts"].columns)
    assert set(tv[("metadata", "tensor_type")]) == {"Activation", "Gradient", "Optimiser_State"}
    assert "fc1.weight.exp_avg" in set(tv[("metadata", "name")])
    counts = tv["exponent_counts"].to_numpy()
    assert counts.dtype == np.int64 and (counts.sum(axis=1) > 0).all()


def test_background_writer_runs_in_order_and_close_waits():
    import time

    from numerics.writer import Background

    done, warned = [], []
    bg = Background(lambda key, msg: warned.append(msg))
    for i in range(3):
        bg.submit(lambda i=i: (time.sleep(0.01), done.append(i)))
    bg.submit(lambda: 1 / 0)  # a failing write warns, never raises
    bg.close()
    assert done == [0, 1, 2] and len(warned) == 1 and "failed" in warned[0]
    bg.submit(done.append, 3)  # after close: inline
    assert done == [0, 1, 2, 3]


def test_background_wait_returns_when_the_job_is_done():
    import time

    from numerics.writer import Background

    done: list[int] = []
    bg = Background(lambda key, msg: None)
    bg.wait()                                   # nothing submitted yet: returns at once
    bg.submit(lambda: (time.sleep(0.05), done.append(1)))
    bg.wait()
    assert done == [1]
    bg.close()
    bg.wait()                                   # after close: returns at once
