"""A SQLite project with every kind of coded data, for moving between backends: the
coded corpus of :mod:`tests.builders.coded_projects` with site2 left to suggest on, a
trained model and its suggestions, a scripted review (accepts, a reject, a relabel, a
skip, an undo), memos, notes with odd text and document attributes."""

from __future__ import annotations

from pathlib import Path

from isp_nlp.pipeline import suggest_project, train_project
from isp_nlp.records import Note
from isp_nlp.review.run import review_project
from isp_nlp.store.decisions import DecisionLog
from isp_nlp.store.folder import open_project
from tests.builders.coded_projects import coded_project

REVIEW_SCRIPT = ["a", "a", "r", "e:funding|stage=exchange", "s", "a", "u", "a", "q"]


def moved_project(root: Path) -> Path:
    """``root/project`` (SQLite), holding rows in every coded-data table."""
    project, _, _ = coded_project(root, leave_out="site2")
    with open_project(project) as store:
        train_project(store)
        suggest_project(store)
        review_project(store, "zoe", script=REVIEW_SCRIPT, write=lambda _: None)
        log = DecisionLog(store)
        log.memo("zoe", Note(title="memo", text="Turnover is a theme; 'quotes' % and \\ too",
                             document="site0"))
        store.add_notes([Note(title="ünïcödé", text="line one\nline two\ttab", coder="ana",
                              document="site1", start=3, end=40)])
        store.set_attributes([("site0", "region", "north"), ("site1", "region", "south"),
                              ("site0", "size", "12")])
    (project / "models" / "note.txt").write_text("a file beside the models\n")
    return project
