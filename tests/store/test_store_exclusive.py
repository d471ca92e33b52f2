"""The store keeps a code's ``exclusive`` flag (schema 9's ``codes.exclusive``)."""

from __future__ import annotations

from pathlib import Path

from isp_nlp.records import Code, Codebook
from isp_nlp.store.folder import init_project, open_project, require_codebook

BOOK = Codebook(name="mi", codes=(
    Code("question", "Question", exclusive=True),
    Code("open_question", "Open question", parent="question"),
    Code("closed_question", "Closed question", parent="question"),
    Code("reflection", "Reflection"),
))


def test_require_codebook_round_trips_exclusive(tmp_path: Path, database_url: str | None
                                               ) -> None:
    init_project(tmp_path, embedder="hashing-256", database=database_url)
    with open_project(tmp_path) as store:
        store.save_codebook(BOOK, "mi.yaml")
    with open_project(tmp_path) as store:  # a fresh connection reads the column back
        book = require_codebook(store)
        raw = dict(store.conn.execute("SELECT id, exclusive FROM codes").fetchall())
    assert book == BOOK
    assert book.exclusive_groups == (("open_question", "closed_question"),)
    assert raw == {"question": 1, "open_question": 0, "closed_question": 0, "reflection": 0}


def test_saving_again_clears_the_flag(tmp_path: Path, database_url: str | None) -> None:
    init_project(tmp_path, embedder="hashing-256", database=database_url)
    plain = Codebook(name="mi", codes=tuple(Code(c.id, c.name, parent=c.parent)
                                            for c in BOOK.codes))
    with open_project(tmp_path) as store:
        store.save_codebook(BOOK, "mi.yaml")
        store.save_codebook(plain, "mi.yaml")
        assert require_codebook(store).exclusive_groups == ()
