"""SQL expressions for reading one metric out of Trackio's JSON rows.

Trackio (0.43 to 0.45) stores each row's metrics as ``orjson.dumps(...)`` bytes (a
BLOB): ``{"key":value,...}`` with no spaces and keys in logging order.  For
such rows :func:`value_sql` finds ``"key":`` with a byte compare at the
offset the run's newest row had (``instr()`` where it differs) and reads the
number after it with a CAST: about 4x cheaper than ``json_extract`` and
indifferent to a malformed row.  TEXT rows (other writers) go through
``json_extract``, guarded by ``json_valid`` so one corrupt row reads as
"no value" instead of failing the whole query.  SQLite's CAST may round the
last bit differently from a correct parser (about 1 value in 500); values that
are shown are read again with :func:`exact_sql`.

Every expression yields a REAL or NULL: ``true``/``false`` read as 1.0/0.0
(as ``json_extract`` does), strings (Trackio's ``"NaN"``, ``"Infinity"``),
nulls, objects and arrays as NULL.  :data:`FINITE` keeps infinities (a
``1e999`` in hand-written JSON) out of aggregates.
"""
from __future__ import annotations

import json

MAX_REAL = 1.7976931348623157e308
FINITE = f"BETWEEN -{MAX_REAL!r} AND {MAX_REAL!r}"  # false for NULL, NaN and +-inf
_NUMBER_CHARS = 40  # longest JSON number worth reading (shortest-repr doubles need <= 24)


def json_path(key: str) -> str:
    """SQLite JSON path for a top-level key (keys contain '/' and '.', so quote it)."""
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def needle(key: str) -> bytes:
    """The bytes ``"key":`` as a compact JSON writer (orjson) writes them."""
    return (json.dumps(key, ensure_ascii=False) + ":").encode()


def _number_at(col: str, pos: str) -> str:
    """The JSON scalar starting at byte ``pos`` of ``col`` as REAL (NULL if not a number).

    CAST reads a number and gives 0.0 for anything else, so only a 0.0 needs a
    look at the first byte (a digit or '-': a zero; 't'/'f': a boolean).
    """
    first = f"substr({col}, {pos}, 1)"
    return (f"coalesce(nullif(CAST(substr({col}, {pos}, {_NUMBER_CHARS}) AS REAL), 0.0), "
            f"CASE WHEN {first} BETWEEN X'2d' AND X'39' THEN 0.0 WHEN {first} = X'74' THEN 1.0 "
            f"WHEN {first} = X'66' THEN 0.0 END)")


def text_value_sql(key: str, col: str = "metrics") -> str:
    """``json_extract`` of ``key`` as REAL or NULL, for TEXT rows (malformed JSON gives NULL)."""
    path = json_path(key).replace("'", "''")
    return (f"(CASE WHEN json_valid({col}) THEN (CASE json_type({col}, '{path}') "
            f"WHEN 'real' THEN json_extract({col}, '{path}') "
            f"WHEN 'integer' THEN CAST(json_extract({col}, '{path}') AS REAL) "
            f"WHEN 'true' THEN 1.0 WHEN 'false' THEN 0.0 END) END)")


def value_sql(key: str, col: str = "metrics", offset: int | None = None, kind: str = "any") -> str:
    """SQL for the numeric value of ``key`` in the JSON row ``col`` (REAL or NULL).

    ``offset`` is the 1-based byte position where ``"key":`` usually starts
    (from the run's newest row); rows where it is elsewhere fall back to
    ``instr()``.  ``kind`` is what the rows hold: ``"blob"`` (Trackio's
    orjson bytes), ``"text"``, or ``"any"`` (checked row by row).
    """
    nd = needle(key)
    hx, n = nd.hex(), len(nd)
    found = f"instr({col}, X'{hx}')"
    fallback = f"(CASE WHEN {found} > 0 THEN {_number_at(col, f'{found} + {n}')} END)"
    blob = fallback
    if offset:
        at = _number_at(col, str(offset + n))
        blob = f"(CASE WHEN substr({col}, {offset}, {n}) = X'{hx}' THEN {at} ELSE {fallback} END)"
    if kind == "blob":
        return blob
    if kind == "text":
        return text_value_sql(key, col)
    return f"(CASE WHEN typeof({col}) = 'blob' THEN {blob} ELSE {text_value_sql(key, col)} END)"


def exact_sql(key: str, col: str = "metrics") -> str:
    """Like :func:`value_sql`, parsing the whole row with ``json_extract``: slower, but the
    number is exactly the nearest double (SQLite's CAST of text can be one bit off), so
    it serves for the few values that are shown."""
    return text_value_sql(key, f"CAST({col} AS TEXT)")


def present_sql(key: str, col: str = "metrics") -> str:
    """SQL that is 1 when the row ``col`` holds ``key`` with any value (strings too), else NULL."""
    path = json_path(key).replace("'", "''")
    return (f"(CASE WHEN typeof({col}) = 'blob' THEN (CASE WHEN instr({col}, X'{needle(key).hex()}') > 0 THEN 1 END) "
            f"WHEN json_valid({col}) AND json_type({col}, '{path}') IS NOT NULL THEN 1 END)")


def offset_sql(key: str, col: str = "metrics") -> str:
    """SQL for the 1-based position of ``"key":`` in a BLOB row (0 when absent)."""
    return f"instr({col}, X'{needle(key).hex()}')"


def row_ok_sql(run_col: str) -> str:
    """SQL that is 1 for a ``metrics`` row whose step and run the viewer can read, else 0.

    Trackio writes an INTEGER step and a TEXT run; a file written by another
    program may hold steps as text, NULL or REAL.  Both columns are in
    Trackio's ``(run_id, step)`` index, so the test costs no table read and
    index-only queries (counts, step ranges) stay index-only.  Metrics that
    are JSON but not an object need no test here: they hold no values for
    :func:`value_sql` and :func:`rundata.store.decode`.
    """
    return f"(typeof(step) = 'integer' AND typeof({run_col}) = 'text')"


def not_object_sql(col: str = "metrics") -> str:
    """SQL that is 1 for a row whose ``col`` is JSON but not an object, else 0 (one byte
    compare for rows starting with ``{``; ``CASE`` keeps ``json_type`` off invalid JSON)."""
    text = f"CAST({col} AS TEXT)"
    return (f"(coalesce(substr({col}, 1, 1) NOT IN ('{{', X'7b'), 1) AND "
            f"CASE WHEN json_valid({text}) THEN json_type({text}) != 'object' ELSE 0 END)")
