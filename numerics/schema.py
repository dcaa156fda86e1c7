"""The numerics table: its schema, the check, and reading it back.

One row per (step, module, kind, state) with these columns, in this order:

====================  =======  =================================================
column                type     meaning
====================  =======  =================================================
step                  int64    optimizer step the row belongs to
module                string   module name (activation, gradient) or parameter
                               name (weight, weight_grad, optimizer_state)
kind                  string   ``activation`` | ``gradient`` | ``weight`` |
                               ``weight_grad`` | ``optimizer_state``
state                 string   optimizer state key (``exp_avg``...), else ""
type                  string   module class name (``Linear``...) or
                               ``Parameter`` / the optimizer class
dtype                 string   torch dtype of the tensor, e.g. ``float32``
numel, sampled        int64    elements in the tensor / used after subsampling
mean ... frac_nonfinite  float64  the scalar statistics (numerics.stats)
exp_underflow         int64    exponent histogram: ``0 < |x| < 2**-149``
exp_-149 ... exp_127  int64    ``2**e <= |x| < 2**(e+1)``
exp_overflow          int64    ``|x| >= 2**128`` and +-inf
====================  =======  =================================================

Histogram columns are absent when the run had histograms off.  The table is a
parquet *dataset*: ``numerics.parquet`` is a directory of part files.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from ktrack.runfolder import RunFolder
from numerics.stats import COUNT_FIELDS, SCALAR_STATS, bin_labels

SCHEMA_VERSION = "1"
KINDS = ("activation", "gradient", "weight", "weight_grad", "optimizer_state")
META_COLUMNS = ("step", "module", "kind", "state", "type", "dtype")
HIST_COLUMNS = tuple(f"exp_{label}" for label in bin_labels())


class SchemaError(ValueError):
    """A numerics table does not have the expected columns or types."""


def arrow_schema(histogram: bool = True) -> pa.Schema:
    """The pyarrow schema of a numerics table (with or without histogram)."""
    fields = [pa.field("step", pa.int64())]
    fields += [pa.field(c, pa.string()) for c in META_COLUMNS[1:]]
    fields += [pa.field(c, pa.int64()) for c in COUNT_FIELDS]
    fields += [pa.field(c, pa.float64()) for c in SCALAR_STATS]
    if histogram:
        fields += [pa.field(c, pa.int64()) for c in HIST_COLUMNS]
    meta = {b"numerics.schema_version": SCHEMA_VERSION.encode()}
    return pa.schema(fields, metadata=meta)


def check_schema(schema: pa.Schema, where: str = "table") -> bool:
    """Raise :class:`SchemaError` naming the first wrong column.

    Args:
        schema: the schema read from the file(s).
        where: path shown in the message.

    Returns:
        Whether the table has histogram columns.
    """
    has_hist = any(name.startswith("exp_") for name in schema.names)
    want = arrow_schema(histogram=has_hist)
    for field in want:
        if field.name not in schema.names:
            raise SchemaError(
                f"column '{field.name}' is missing in {where}; "
                "was it written by numerics.track?"
            )
        got = schema.field(field.name).type
        ok = got == field.type or (field.type == pa.string() and got == pa.large_string())
        if not ok:
            raise SchemaError(
                f"column '{field.name}' in {where} has type {got}, expected {field.type}"
            )
    return has_hist


def part_files(path: str | Path) -> list[Path]:
    """The parquet files of a table: ``path`` itself or the parts in it."""
    p = Path(path)
    if p.is_dir():
        return sorted(f for f in p.glob("*.parquet") if f.is_file())
    return [p] if p.exists() else []


def read_table(path: str | Path, columns: list[str] | None = None):
    """Read a numerics table into a pandas DataFrame, checking its schema.

    ``path`` is a run directory, its ``numerics.parquet`` directory, or one
    parquet file.  Every part file is checked; rows written twice (a crash
    during compaction) are dropped.  Raises :class:`SchemaError` (a
    ``ValueError``) with a one-line message naming the bad column, and
    ``FileNotFoundError`` when there is no table.
    """
    import pyarrow.parquet as pq

    p = Path(path)
    if p.is_dir() and RunFolder(p).numerics.exists():
        p = RunFolder(p).numerics
    files = part_files(p)
    if not files:
        raise FileNotFoundError(f"no numerics table at {path}; was the run made with NUMERICS=y?")
    tables = []
    for f in files:
        check_schema(pq.read_schema(f), str(f))
        t = pq.read_table(f, columns=columns)
        tables.append(t.replace_schema_metadata(None))
    df = pa.concat_tables(tables, promote_options="default").to_pandas()
    keys = [c for c in ("step", "module", "kind", "state") if c in df.columns]
    if len(keys) == 4:
        df = df.drop_duplicates(subset=keys, keep="last").sort_values(["step", "kind", "module"])
    return df.reset_index(drop=True)


_TANDV_KIND = {
    "activation": "Activation",
    "gradient": "Gradient",
    "weight": "Weight",
    "weight_grad": "Gradient",
    "optimizer_state": "Optimiser_State",
}


def to_tandv(df):
    """Convert to the three-level column layout used by Graphcore's tandv.

    Columns become ``("metadata", name|type|tensor_type|step|dtype)``,
    ``("scalar_stats", <stat>)`` and ``("exponent_counts", <e>)`` with the
    underflow/overflow bins named ``-inf``/``+inf``.  Weight gradients become
    ``tensor_type="Gradient"`` on the parameter name; optimizer states are
    named ``<param>.<state>``.
    """
    import pandas as pd

    name = df["module"].where(df["state"] == "", df["module"] + "." + df["state"])
    cols = {
        ("metadata", "name"): name,
        ("metadata", "type"): df["type"],
        ("metadata", "tensor_type"): df["kind"].map(_TANDV_KIND),
        ("metadata", "step"): df["step"],
        ("metadata", "dtype"): df["dtype"],
    }
    for s in SCALAR_STATS:
        cols[("scalar_stats", s)] = df[s]
    for c in HIST_COLUMNS:
        if c in df.columns:
            label = c[4:]
            label = {"underflow": "-inf", "overflow": "+inf"}.get(label, label)
            cols[("exponent_counts", label)] = df[c]
    return pd.DataFrame(cols)
