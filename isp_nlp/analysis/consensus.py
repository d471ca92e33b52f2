"""Recording a consensus for disagreements: from a filled-in consensus sheet
(:func:`resolve_csv`, all rows or nothing) or for one segment
(:func:`resolve_segment`). The consensus is stored as coder ``consensus``
(source ``consensus``); it is never a coder in agreement statistics."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from isp_nlp.codebook.check import normalise_value
from isp_nlp.codebook.load import MAX_TABLE_BYTES, read_text_file, resolve_code
from isp_nlp.coded.read import rows_with_lines
from isp_nlp.errors import ImportCodesError, InputFileError, did_you_mean
from isp_nlp.records import CODE_DIMENSION, Annotation, Codebook, Dimension, Segment
from isp_nlp.store.database import Store
from isp_nlp.store.folder import require_codebook

CONSENSUS = "consensus"
NO_CODE = "-"  # in a sheet: the coder (or the consensus) applied no code
CODES_COLUMN = "consensus_codes"


def consensus_columns(dimensions: Sequence[str]) -> tuple[str, ...]:
    """The sheet's consensus columns: ``consensus_codes``, then ``consensus_<id>`` for each
    dimension id (``consensus_stage`` for the default codebook)."""
    return (CODES_COLUMN, *(f"consensus_{d}" for d in dimensions))


def _split_codes(cell: str) -> list[str]:
    return [c.strip() for c in re.split(r"[;,|]", cell) if c.strip()]


def _parse_codes(cell: str, codebook: Codebook, where: str, problems: list[str]
                 ) -> frozenset[str] | None:

    cell = cell.strip()
    if not cell:
        return None
    if cell == NO_CODE:
        return frozenset()
    found = set()
    for value in _split_codes(cell):
        code = resolve_code(codebook, value)
        if code is None:
            problems.append(f"{where}: consensus_codes has '{value}', which is not a code in the "
                            f"codebook{did_you_mean(value, codebook.code_ids)}; use a code id "
                            f"from `isp-nlp codebook show` or '{NO_CODE}' for no code")
        else:
            found.add(code.id)
    return frozenset(found)


def _parse_value(cell: str, dimension: Dimension, where: str, problems: list[str],
                 column: str) -> str | None:

    value = normalise_value(dimension, cell)
    if value is None:
        return None
    if value not in dimension.value_ids:
        problems.append(f"{where}: {column} is '{cell.strip()}', expected one of "
                        f"{', '.join(dimension.value_ids)}")
        return None
    return value


def _consensus_annotations(segment_id: str, codes: frozenset[str] | None,
                           values: Mapping[str, str]) -> list[Annotation]:
    out = []
    if codes is not None:
        out += [Annotation(segment_id, CONSENSUS, CODE_DIMENSION, c, CONSENSUS)
                for c in sorted(codes)] or [
            Annotation(segment_id, CONSENSUS, CODE_DIMENSION, None, CONSENSUS)]
    out += [Annotation(segment_id, CONSENSUS, dim, value, CONSENSUS)
            for dim, value in values.items()]
    return out


def _read_sheet(path: Path, codebook: Codebook) -> tuple[list[str], list[tuple[int, list[str]]]]:

    text = read_text_file(path, "consensus CSV", MAX_TABLE_BYTES)
    header_line = next((ln for ln in text.splitlines() if ln.strip()), "")
    delimiter = max((",", ";", "\t"), key=header_line.count)
    records = [(n, r) for n, r in rows_with_lines(text, delimiter, path.name)
               if any(f.strip() for f in r)]
    header = [h.strip().casefold() for h in records[0][1]]
    missing = [c for c in ("segment", *consensus_columns(codebook.dimension_ids))
               if c not in header]
    if missing:
        raise InputFileError(
            f"{path.name} line 1 lacks the column(s) {', '.join(missing)}; expected the sheet "
            "written by `isp-nlp disagreements --out FILE.csv`, so keep its header row."
        )
    return header, records[1:]


def resolve_csv(store: Store, path: str | Path) -> dict[str, int]:
    """Record the consensus codes and dimension values of a filled-in disagreements sheet,
    all rows or none.

    ``consensus_codes`` holds code ids or names separated by ``;`` (``-`` for no code) and
    ``consensus_<dimension>`` (``consensus_stage``) a value of that dimension; a row with
    all of them empty is left unresolved.
    """

    path = Path(path)
    codebook = require_codebook(store)
    columns = consensus_columns(codebook.dimension_ids)
    header, records = _read_sheet(path, codebook)
    col = {name: header.index(name) for name in header}
    by_id = {s.id: s for s in store.segments()}
    problems: list[str] = []
    annotations: list[Annotation] = []
    seen: dict[str, int] = {}
    skipped = resolved = 0
    for line, record in records:
        def get(name: str, record: list[str] = record) -> str:
            i = col.get(name)
            return record[i].strip() if i is not None and i < len(record) else ""

        where = f"line {line}"
        seg_id = get("segment")
        codes = _parse_codes(get(CODES_COLUMN), codebook, where, problems)
        values = {}
        for dim in codebook.dimensions:
            column = f"consensus_{dim.id}"
            value = _parse_value(get(column), dim, where, problems, column)
            if value is not None:
                values[dim.id] = value
        if not any(get(c) for c in columns):
            skipped += 1
            continue
        seg = by_id.get(seg_id)
        if seg is None:
            problems.append(f"{where}: segment '{seg_id}' is not in this project; keep the "
                            "segment column as written by `isp-nlp disagreements`")
            continue
        if get("document") and get("document") != seg.document:
            problems.append(f"{where}: document is '{get('document')}' but segment {seg_id} "
                            f"belongs to '{seg.document}'; restore the row's segment id")
            continue
        if seg_id in seen:
            problems.append(f"{where}: segment {seg_id} was already resolved on line "
                            f"{seen[seg_id]}; keep one row per segment")
            continue
        seen[seg_id] = line
        annotations += _consensus_annotations(seg_id, codes, values)
        resolved += 1
    if problems:
        n = len({p.split(":", 1)[0] for p in problems})
        raise ImportCodesError(
            f"{path.name}: {n} row(s) cannot be recorded (nothing was recorded); first: "
            f"{problems[0]}.", problems)
    if not annotations:
        raise InputFileError(
            f"{path.name} has no row with {' or '.join(columns)} filled in; fill in the "
            "consensus for at least one segment and run resolve again."
        )
    stats = store.import_annotations(annotations, source=f"resolve:{path.name}")
    return {"resolved": resolved, "unfilled": skipped, "changed": stats["changed"],
            "unchanged": stats["unchanged"]}


def find_segment(store: Store, key: str) -> Segment:
    """A segment by id, or by ``document#index`` (the index shown by ``disagreements``)."""
    segments = store.segments()
    for seg in segments:
        if seg.id == key:
            return seg
    hint = ""
    if "#" in key:
        document, _, index = key.rpartition("#")
        for seg in segments:
            if seg.document == document and str(seg.index) == index.strip():
                return seg
        hint = did_you_mean(document, {seg.document for seg in segments})
        hint = hint.replace("'?)", f"#{index.strip()}'?)")
    raise InputFileError(
        f"--segment '{key}' matches no segment of this project{hint}; expected a segment id "
        "or DOCUMENT#INDEX as listed by `isp-nlp disagreements`."
    )


def resolve_segment(store: Store, key: str, *, codes: str | None = None,
                    values: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Record the consensus for one segment (``codes``: ids/names joined by ``,``;
    ``-`` for no code; ``values``: dimension id → agreed value). The result names the
    codes (None when not given) and ``values`` (dimension id → value recorded)."""

    codebook = require_codebook(store)
    given = {d.strip(): v for d, v in (values or {}).items() if (v or "").strip()}
    if not (codes or "").strip() and not given:
        raise InputFileError(
            "resolve --segment needs --codes and/or --stage (or --value DIMENSION=VALUE); "
            f"give the agreed codes (comma-separated, '{NO_CODE}' for none) or an agreed "
            "value."
        )
    unknown = [d for d in given if codebook.dimension(d) is None]
    if unknown:
        have = ", ".join(codebook.dimension_ids) or "no dimensions"
        raise InputFileError(
            f"--value names the dimension '{unknown[0]}', which the project's codebook does "
            f"not have (it has {have}), so use one of those."
        )
    seg = find_segment(store, key)
    problems: list[str] = []
    code_set = _parse_codes(codes or "", codebook, "--codes", problems)
    chosen: dict[str, str] = {}
    for dim_id, cell in given.items():
        dim = codebook.dimension(dim_id)
        assert dim is not None
        value = _parse_value(cell, dim, "--value", problems, dim_id)
        if value is not None:
            chosen[dim_id] = value
    if problems:
        raise InputFileError(problems[0].replace("consensus_codes has", "has") + ".")
    store.import_annotations(_consensus_annotations(seg.id, code_set, chosen),
                             source=f"resolve:{seg.id}")
    return {"segment": seg.id, "document": seg.document, "index": seg.index,
            "codes": None if code_set is None else sorted(code_set), "values": chosen}
