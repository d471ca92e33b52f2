"""Training on a project kept on PostgreSQL reads and writes in a bounded number of round
trips (batched reads, ``executemany`` writes), never one query per segment."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from isp_nlp.pipeline import suggest_project, train_project
from isp_nlp.store.folder import open_project
from isp_nlp.store.postgres import PgConnection
from tests.builders.coded_projects import coded_project


def test_train_and_suggest_talk_to_the_server_in_a_few_round_trips(
        pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project, _, _ = coded_project(tmp_path, leave_out="site2", database=pg_url)
    calls: Counter[str] = Counter()
    execute, executemany = PgConnection.execute, PgConnection.executemany

    def counted(sql: str, run: Any) -> Any:
        calls[" ".join(sql.split()[:3])] += 1
        return run()

    monkeypatch.setattr(PgConnection, "execute", lambda self, sql, p=None: counted(
        sql, lambda: execute(self, sql, p)))
    monkeypatch.setattr(PgConnection, "executemany", lambda self, sql, p: counted(
        sql, lambda: executemany(self, sql, p)))
    with open_project(project) as store:
        segments = len(store.segments())
        calls.clear()
        train_project(store)  # embeds every segment: cache misses, batched writes
        trained = sum(calls.values())
        calls.clear()
        suggest_project(store)
        suggested = sum(calls.values())
    assert segments > 40
    assert trained <= 40 and suggested <= 40, calls.most_common(5)
