"""The review's background retrain on a project kept on PostgreSQL: the new model's files
go into the database, so the queue (and every other machine) loads it from there."""

from __future__ import annotations

from pathlib import Path

from isp_nlp.pipeline import load_latest_model, suggest_project, train_project
from isp_nlp.records import Decision
from isp_nlp.review.items import build_review_items
from isp_nlp.review.retrain import BackgroundRetrainer
from isp_nlp.review.session import snapshot
from isp_nlp.store.decisions import DecisionLog
from isp_nlp.store.folder import open_project
from tests.builders.coded_projects import coded_project

RETRAIN_LIMIT = 300


def test_a_background_retrain_stores_its_model_in_the_database(pg_url: str,
                                                               tmp_path: Path) -> None:
    path, _, _ = coded_project(tmp_path, leave_out="site2", database=pg_url)
    with open_project(path) as store:
        before = train_project(store, folds=2)["model_id"]
        suggest_project(store)
        item = build_review_items(store, "cleo")[0]
        DecisionLog(store).record(Decision("cleo", item.key, item.segment.id, "accept",
                                           item.suggested_codes, item.model_id,
                                           suggestion=snapshot(item)))
        retrainer = BackgroundRetrainer(path, every=1, coder="cleo", store=store,
                                        train_args=("--folds", "2"))
        assert retrainer.notify(1)
        items = retrainer.wait(RETRAIN_LIMIT)
        assert items is not None, retrainer.message
        latest = store.latest_model()
        assert latest is not None and latest["id"] != before
        assert {i.model_id for i in items} == {latest["id"]}
        names = {r[0] for r in store.conn.execute(
            "SELECT name FROM model_files WHERE model_id = ?", (latest["id"],))}
        assert {"manifest.json", "config.json", "weights.npz"} <= names
        assert load_latest_model(store).manifest["model_id"] == latest["id"]
    assert not (path / "models").exists()
