"""`review --retrain-every N`: the screen's tick starts a retrain every N decisions and
hands back the new model's items, ordered and filtered as the session's."""

from __future__ import annotations

from pathlib import Path

from isp_nlp.review.items import build_review_items
from isp_nlp.review.queue import ReviewFilter
from isp_nlp.review.run import project_review, retrain_tick
from isp_nlp.store.folder import open_project
from tests.builders.cli_runs import assert_one_line_error, run
from tests.builders.review_queue import suggested_project


class FakeRetrainer:
    """Records notify() calls; poll() reports a finished retrain once, with ``items``
    (the new model's items, unordered, as the real retrainer builds them)."""

    def __init__(self, every: int, items: list) -> None:
        self.every, self.notified, self.started, self.done = every, [], 0, False
        self.items = items

    def notify(self, n: int) -> bool:
        self.notified.append(n)
        if n - self.started * self.every >= self.every:
            self.started += 1
            return True
        return False

    def poll(self):
        if self.started and not self.done:
            self.done = True
            return list(reversed(self.items))
        return None


def test_the_tick_notifies_decisions_and_rereads_ordered_items(tmp_path: Path):
    project = suggested_project(tmp_path, documents=2, turns=30)
    with open_project(project) as store:
        only = ReviewFilter(min_words=4)
        session = project_review(store, "zoe", order="document", only=only)
        fake = FakeRetrainer(every=2, items=build_review_items(store, "zoe"))
        tick = retrain_tick(session, fake, order="document", only=only)  # type: ignore[arg-type]
        assert tick() is None and fake.notified == [0]
        session.accept()
        session.reject()
        items = tick()
        assert fake.notified == [0, 2] and fake.started == 1
        assert items is not None and items
        keys = [(i.segment.document, i.segment.index) for i in items]
        assert keys == sorted(keys)  # document order, as the session's
        assert all(len(i.segment.text.split()) >= 4 for i in items)
        assert tick() is None  # nothing new until the next retrain


def test_retrain_every_is_refused_outside_the_full_screen(tmp_path: Path):
    project = suggested_project(tmp_path, documents=2, turns=30)
    result = run("review", "--coder", "zoe", "--retrain-every", "5", "--script", "q",
                 project=project)
    assert_one_line_error(result, "--retrain-every works in the full-screen review only")
