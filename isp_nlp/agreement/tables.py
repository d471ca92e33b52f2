"""Coding tables: annotations pivoted to unit × coder label tables (pure, no I/O).

A *coding table* is a DataFrame whose index is the unit (segment id), whose
columns are coders (the model is just another column, :data:`MODEL_CODER`) and whose
values are labels, with NaN/None where a coder did not code the unit.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from isp_nlp.codebook.check import normalise_value, stage_dimension
from isp_nlp.codebook.load import resolve_code
from isp_nlp.errors import IspNlpError, did_you_mean
from isp_nlp.records import CODE_DIMENSION, Dimension

ANNOTATION_COLUMNS = ("segment_id", "coder", "dimension", "label")
#: The coder name under which the model's labels join the coding tables.
MODEL_CODER = "model"
#: Kinds of coder pair.
HUMAN_HUMAN = "human–human"
MODEL_HUMAN = "model–human"
#: Who an estimate covers: the human coders alone, or the humans plus the model counted
#: as one more coder (an estimate's ``population``; a pair's follows its kind).
HUMANS, COMBINED = "humans", "humans+model"


def default_dimensions() -> tuple[Dimension, ...]:
    """The single-choice dimensions of a codebook without ``dimensions:`` (the stage):
    what the functions here assume when no dimensions are given."""
    return (stage_dimension(),)


def dimension_title(dimension: Dimension) -> str:
    """How output names a dimension: its name, lower-cased when it only spells the id
    ("stage", "phase"), else as written."""
    name = dimension.name or dimension.id
    return name.lower() if name.casefold() == dimension.id.casefold() else name


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _notmissing(value: Any) -> bool:
    return not _missing(value)


def coder_order(coders: Iterable[Any], model_coder: str = MODEL_CODER) -> list[str]:
    """Coder names sorted, the model last."""
    names = sorted({str(c) for c in coders})
    if model_coder in names:
        names.remove(model_coder)
        names.append(model_coder)
    return names


def coding_tables(
    annotations: pd.DataFrame, codes: Sequence[str], *, model_coder: str = MODEL_CODER,
    dimensions: Sequence[Dimension] | None = None,
) -> dict[str, pd.DataFrame]:
    """Build one label table per single-choice dimension (keyed by its id; ``dimensions``,
    by default the default codebook's stage) and one 0/1 presence table per code id.

    In a code table a coder who has any code-dimension row for a segment gets 1
    when the code is among their labels and 0 otherwise ("seen, no code" rows have
    label None); a coder without such a row gets NaN. Duplicate rows of one dimension
    for the same coder and segment keep the last one.
    """
    missing = [c for c in ANNOTATION_COLUMNS if c not in annotations.columns]
    if missing:
        raise IspNlpError(
            f"The annotations table is missing column(s) {', '.join(missing)}; expected "
            f"columns {', '.join(ANNOTATION_COLUMNS)}, so export annotations with all of them."
        )
    frame = annotations.loc[:, list(ANNOTATION_COLUMNS)].copy()
    frame["segment_id"] = frame["segment_id"].astype(str)
    frame["coder"] = frame["coder"].astype(str)
    frame["dimension"] = frame["dimension"].astype(str)

    tables: dict[str, pd.DataFrame] = {}
    for dimension in default_dimensions() if dimensions is None else dimensions:
        given = frame[(frame["dimension"] == dimension.id) & frame["label"].map(_notmissing)]
        if given.empty:
            table = pd.DataFrame(dtype=object)
        else:
            table = given.groupby(["segment_id", "coder"], sort=True)["label"].last().unstack()
            table = table[coder_order(table.columns, model_coder)]
            table = table.astype(object).where(table.notna(), None)
        table.index.name = "segment_id"
        table.columns.name = "coder"
        tables[dimension.id] = table

    code_rows = frame[frame["dimension"] == CODE_DIMENSION]
    if code_rows.empty:
        for code in codes:
            empty = pd.DataFrame(dtype=float)
            empty.index.name, empty.columns.name = "segment_id", "coder"
            tables[str(code)] = empty
        return tables
    # 0 where the coder has a code-dimension row for the segment, NaN where not; then 1
    # where one of those rows carries the code (vectorised: 500k segments take seconds).
    pairs = code_rows[["segment_id", "coder"]].drop_duplicates()
    base = pairs.assign(value=0.0).pivot(index="segment_id", columns="coder", values="value")
    base = base.sort_index()[coder_order(base.columns, model_coder)]
    labelled = code_rows[code_rows["label"].map(_notmissing)]
    labels = labelled["label"].astype(str)
    for code in codes:
        code = str(code)
        values = base.to_numpy(copy=True)
        hits = labelled[labels == code]
        rows = base.index.get_indexer(pd.Index(hits["segment_id"]))
        cols = base.columns.get_indexer(pd.Index(hits["coder"]))
        values[rows, cols] = 1.0
        table = pd.DataFrame(values, index=base.index, columns=base.columns)
        table.index.name, table.columns.name = "segment_id", "coder"
        tables[code] = table
    return tables



# --------------------------------------------------------------------------- CSV codings


def _csv_unit(row: Any) -> str:
    """The unit of a coded-CSV row: (document, segment id), else (document, start-end),
    else (document, text with whitespace collapsed); an empty field is a one-line error."""
    if not row.document or not row.coder:
        field = "document" if not row.document else "coder"
        raise IspNlpError(
            f"Line {row.line} of the coded CSV has an empty {field}; every row needs a "
            f"document and a coder, so fill it in."
        )
    if row.segment:
        return f"{row.document}#{row.segment}"
    if row.start is not None and row.end is not None:
        return f"{row.document}@{row.start}-{row.end}"
    if row.text.strip():
        return f"{row.document}:{' '.join(row.text.split())}"
    raise IspNlpError(
        f"Line {row.line} of the coded CSV has no segment id, offsets or text, so its "
        "unit is unknown; fill in one of them."
    )


def csv_annotations(rows: Sequence[Any], *, dimensions: Sequence[Dimension] | None = None,
                    ) -> tuple[pd.DataFrame, dict[str, str]]:
    """Annotation frame and unit → document map from coded-CSV rows, without a project.

    A unit is (document, segment id), else (document, start-end), else (document,
    text with whitespace collapsed). Each of ``dimensions`` (by default the default
    codebook's stage) is read from the column named by its id.
    """

    dims = default_dimensions() if dimensions is None else tuple(dimensions)
    records, documents = [], {}
    for row in rows:
        unit = _csv_unit(row)
        documents[unit] = row.document
        records.append((unit, row.coder, CODE_DIMENSION, row.code or None))
        for dim in dims:
            value = row_value(row, dim)
            if value:
                records.append((unit, row.coder, dim.id, value))
    return pd.DataFrame(records, columns=list(ANNOTATION_COLUMNS)), documents


def csv_coding_tables(
    rows: Iterable[Any], *, model_coder: str = MODEL_CODER,
    dimensions: Sequence[Dimension] | None = None,
) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """:func:`coding_tables` of :func:`csv_annotations` (codes: every code used), built
    in one pass over a stream of coded-CSV rows (:func:`~isp_nlp.coded.read.iter_coded_csv`).

    Memory grows with the units, not the rows: strings are interned and each row
    keeps three small integers. A row's problem is raised once the stream is exhausted,
    so a problem the reader finds later in the file is reported first, as before.
    """
    dims = default_dimensions() if dimensions is None else tuple(dimensions)
    units: dict[str, int] = {}
    documents: dict[str, str] = {}
    names: dict[str, str] = {}
    coders: dict[str, int] = {}
    codes: dict[str, int] = {}
    values: list[dict[str, int]] = [{} for _ in dims]
    code_rows = array("q")  # (unit, coder, label) triples
    value_rows = [array("q") for _ in dims]
    problem: IspNlpError | None = None
    for row in rows:
        if problem is not None:
            continue
        try:
            unit, given = _csv_unit(row), [row_value(row, dim) for dim in dims]
        except IspNlpError as exc:
            problem = exc
            continue
        u = units.setdefault(unit, len(units))
        documents[unit] = names.setdefault(row.document, row.document)
        c = coders.setdefault(row.coder, len(coders))
        code_rows.extend((u, c, codes.setdefault(row.code, len(codes)) if row.code else -1))
        for value, seen, out in zip(given, values, value_rows, strict=True):
            if value:
                out.extend((u, c, seen.setdefault(value, len(seen))))
    if problem is not None:
        raise problem
    unit_names = list(units)
    del units
    coder_names = list(coders)
    order = sorted(range(len(unit_names)), key=unit_names.__getitem__)
    sorted_names = [unit_names[i] for i in order]
    del unit_names
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    code_cells = np.frombuffer(code_rows, dtype=np.int64).reshape(-1, 3)
    tables = {}
    for dim, seen, out in zip(dims, values, value_rows, strict=True):
        cells = np.frombuffer(out, dtype=np.int64).reshape(-1, 3)
        tables[dim.id] = _label_frame(cells, rank, sorted_names, coder_names, list(seen),
                                      model_coder)
    columns = coder_order(coder_names, model_coder)
    position = np.array([columns.index(c) for c in coder_names], dtype=np.int64)
    index = pd.Index(sorted_names, name="segment_id")
    header = pd.Index(columns, name="coder")
    rows_at, cols_at = rank[code_cells[:, 0]], position[code_cells[:, 1]]
    base = np.full((len(index), len(columns)), np.nan)
    base[rows_at, cols_at] = 0.0
    for code in sorted(codes):
        values_at = base.copy()
        hit = code_cells[:, 2] == codes[code]
        values_at[rows_at[hit], cols_at[hit]] = 1.0
        tables[code] = pd.DataFrame(values_at, index=index, columns=header)
    return tables, documents


def _label_frame(cells: np.ndarray, rank: np.ndarray, units: list[str], coders: list[str],
                 labels: list[str], model_coder: str) -> pd.DataFrame:
    """A dimension's table from (unit, coder, label) rows: the last label of each coder on
    each unit; only units (``units`` sorted, ``rank`` maps unit numbers to them) and
    coders with a label; None elsewhere."""
    if not len(cells):
        table = pd.DataFrame(dtype=object)
        table.index.name, table.columns.name = "segment_id", "coder"
        return table
    key = cells[:, 0] * len(coders) + cells[:, 1]
    _, last = np.unique(key[::-1], return_index=True)
    cells = cells[len(cells) - 1 - last]
    at = rank[cells[:, 0]]
    seen = np.unique(at)
    columns = coder_order([coders[c] for c in np.unique(cells[:, 1])], model_coder)
    position = np.array([columns.index(c) if c in columns else -1 for c in coders])
    values = np.full((len(seen), len(columns)), None, dtype=object)
    values[np.searchsorted(seen, at), position[cells[:, 1]]] = (
        np.array(labels, dtype=object)[cells[:, 2]])
    return pd.DataFrame(values, dtype=object,
                        index=pd.Index([units[i] for i in seen], name="segment_id"),
                        columns=pd.Index(columns, name="coder"))


def row_value(row: Any, dimension: Dimension) -> str | None:
    """The row's value of ``dimension`` from the column named by its id (None when empty),
    spelled as the codebook spells it; an unknown value is a one-line error naming the
    line, the dimension and its values. A dimension without declared values (a CSV
    column read without a codebook) takes the cell as written."""
    value = normalise_value(dimension, row.value(dimension.id))
    if value is None or not dimension.values or value in dimension.value_ids:
        return value
    ids = list(dimension.value_ids)
    hint = did_you_mean(value, ids)
    raise IspNlpError(
        f"Line {row.line} of the coded CSV has {dimension.id} '{value}'{hint}; expected one "
        f"of {', '.join(ids)} or empty, so correct it."
    )


def mapped_annotations(mapped: Sequence[tuple[Any, Any]], codebook: Any) -> pd.DataFrame:
    """Annotation frame from (CSV row, project segment) pairs; codes resolved by id or name,
    each of the codebook's dimensions read from its column."""

    records = []
    for row, seg in mapped:
        code = resolve_code(codebook, row.code) if row.code else None
        label = code.id if code is not None else (row.code or None)
        records.append((seg.id, row.coder, CODE_DIMENSION, label))
        for dim in codebook.dimensions:
            value = row_value(row, dim)
            if value:
                records.append((seg.id, row.coder, dim.id, value))
    return pd.DataFrame(records, columns=list(ANNOTATION_COLUMNS))


# --------------------------------------------------------------------------- one variable

#: The target of the one variable whose values are the codes (single-label codings).
VALUE_TARGET = "code"


def _number(label: str) -> float | None:
    try:
        value = float(label)
    except ValueError:
        return None
    return value if np.isfinite(value) else None


def single_value_table(
    codes: Mapping[str, pd.DataFrame], *, force: bool = False,
    model_coder: str = MODEL_CODER,
) -> pd.DataFrame | None:
    """One unit × coder table whose values are the codes, from per-code presence tables.

    Without ``force``: the table when every coder who saw a unit gave it exactly one
    code, else None. With ``force``: a coder who gave a unit no code is missing there,
    and one who gave it several codes is a one-line error. Values are numbers (float)
    when every code reads as a number, else the code texts.
    """
    codes = {str(c): t for c, t in codes.items() if not t.empty}
    if not codes:
        return None
    index = sorted(set().union(*(t.index for t in codes.values())))
    columns = coder_order(set().union(*(t.columns for t in codes.values())), model_coder)
    names = sorted(codes)
    presence = np.stack([codes[c].reindex(index=index, columns=columns).to_numpy(float)
                         for c in names], axis=2)
    seen = ~np.isnan(presence).all(axis=2)
    given = (presence == 1).sum(axis=2)
    several = given > 1
    if several.any():
        if not force:
            return None
        row, col = (int(x[0]) for x in np.nonzero(several))
        raise IspNlpError(
            f"Coder {columns[col]} gives unit {index[row]} {int(given[row, col])} codes, but "
            "--single-label needs one value per coder and unit, so drop --single-label or "
            "keep one code each."
        )
    if not force and (given[seen] != 1).any():
        return None
    numbers = [_number(c) for c in names]
    labels: np.ndarray = (np.array(numbers, dtype=float) if None not in numbers
                          else np.array(names, dtype=object))
    keep = given == 1
    values = np.full(given.shape, None if labels.dtype == object else np.nan,
                     dtype=labels.dtype)
    values[keep] = labels[presence.argmax(axis=2)][keep]
    table = pd.DataFrame(values, index=pd.Index(index, name="segment_id"),
                         columns=pd.Index(columns, name="coder"))
    return table.loc[keep.any(axis=1)]


def check_value_level(table: pd.DataFrame, level: str) -> None:
    """Raise a one-line error when ``level`` needs numbers and the values are codes' text."""
    if level == "nominal" or table.dtypes.map(lambda d: d.kind == "f").all():
        return
    text = next((v for v in table.to_numpy().ravel() if isinstance(v, str)
                 and _number(v) is None), "?")
    raise IspNlpError(
        f"--level {level} needs values that are numbers, but the code '{text}' is not one, "
        "so use --level nominal or codes that are numbers."
    )
