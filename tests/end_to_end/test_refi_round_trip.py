"""Import → export → import changes nothing: every shared QDA export, and our own projects."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from isp_nlp.interchange.refi_export import write_qdpx
from isp_nlp.interchange.refi_import import import_refi
from isp_nlp.records import Note
from isp_nlp.store.database import Store
from isp_nlp.store.folder import init_project, open_project
from tests.builders.export_project import build_export_project
from tests.builders.paths import SHARED, require_shared


def content(store: Store) -> dict[str, object]:
    """What a project holds that exchange must keep (not ids, dates or the log)."""
    cb = store.codebook()
    return {
        "texts": store.transcript_texts(),
        "codes": None if cb is None else [
            (c.id, c.name, c.parent, c.definition, c.color, c.dimension)
            for c in (*cb.codes, *(v for d in cb.dimensions for v in d.values))],
        "dimensions": None if cb is None else [
            (d.id, d.name, d.definition, d.ordered, d.pathway, d.unordered, d.value_ids)
            for d in cb.dimensions],
        "coders": [c.name for c in store.coders()],
        "codings": sorted((c.document, c.start, c.end, c.code, c.dimension, c.coder, c.source)
                          for c in store.codings()),
        "annotations": sorted((a.segment_id, a.coder, a.dimension, a.label or "", a.source)
                              for a in store.annotations()),
        "notes": sorted((n.title, n.text, n.coder, n.document or "", n.start or -1, n.end or -1)
                        for n in store.notes()),
    }


def _round_trip(source: Path, tmp_path: Path) -> tuple[dict, dict, dict, Path]:
    first, second = tmp_path / "first", tmp_path / "second"
    for p in (first, second):
        init_project(p, embedder="hashing-256")
    exported = tmp_path / "exported.qdpx"
    with open_project(first) as store:
        import_refi(store, source)
        write_qdpx(store, exported)
        before = content(store)
    with open_project(second) as store:
        import_refi(store, exported)
        after = content(store)
    with open_project(first) as store:
        import_refi(store, exported)  # our own export back into the project
        again = content(store)
    return before, after, again, exported


def _validate(qdpx: Path) -> None:
    xsd = SHARED / "refi-qda" / "Project.xsd"
    if xsd.is_file():
        import xmlschema

        with zipfile.ZipFile(qdpx) as archive:
            xmlschema.XMLSchema(str(xsd)).validate(archive.read("project.qde").decode("utf-8"))


@pytest.mark.parametrize("name", [
    "nvivo-mac-12.7-export.qdpx", "nvivo-mac-15-export.qdpx", "qc-1.2.0-demo.qdpx",
    "qc-1.3.2-demo.qdpx", "atlasti-8.4-standard-project.qde"])
def test_every_shared_export_round_trips_without_change(name: str, tmp_path: Path) -> None:
    source = require_shared("refi-qda", name)
    before, after, again, exported = _round_trip(source, tmp_path)
    assert after == before
    assert again == before
    _validate(exported)


def test_our_own_project_reaches_a_fixed_point_and_keeps_its_labels(tmp_path: Path) -> None:
    project = build_export_project(tmp_path / "built", train=False)
    with open_project(project) as store:
        doc = "site2"
        text = store.transcript_text(doc) or ""
        start = text.index("coach")
        store.add_notes([Note(title="Memo", text="Coaching after the emoji 👩‍🏫.", coder="ana",
                              document=doc, start=start, end=start + 5),
                         Note(title="Site memo", text="Whole site.", document="site1"),
                         Note(title="Project memo", text="Loose.")])
        original = content(store)
        first = tmp_path / "first.qdpx"
        write_qdpx(store, first)
    one, two = tmp_path / "one", tmp_path / "two"
    for p in (one, two):
        init_project(p, embedder="hashing-256")
    with open_project(one) as store:
        import_refi(store, first)
        imported = content(store)
        second = tmp_path / "second.qdpx"
        write_qdpx(store, second)
    with open_project(two) as store:
        import_refi(store, second)
        assert content(store) == imported  # import → export → import changes nothing
    _validate(first)
    assert imported["texts"] == original["texts"] and imported["notes"] == original["notes"]
    assert imported["codes"] == original["codes"]
    # every label survives; the codings the original held only as spans now also label
    # their segments, as any import of codings does
    labelled = {a for a in original["annotations"] if a[3]}  # type: ignore[union-attr]
    assert labelled <= {a for a in imported["annotations"] if a[3]}  # type: ignore[union-attr]
    assert set(original["codings"]) <= set(imported["codings"])  # type: ignore[arg-type]
