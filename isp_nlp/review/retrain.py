"""Retrain in the background while a coder reviews: the loop learns during the session.

:class:`BackgroundRetrainer` runs ``isp-nlp train`` and then ``isp-nlp suggest`` on the
project in a child process (``sys.executable -m isp_nlp``) after every ``every``
decisions, never two at once, so the review process neither imports torch nor holds the
GIL while fitting. The child writes through the store's own transactions (WAL, a short
IMMEDIATE transaction per write, see :mod:`isp_nlp.store.connection`), so a decision the
coder records meanwhile waits at most for one of those writes and is never lost.
:meth:`BackgroundRetrainer.poll` hands back the new model's review items once the child
has finished, and logs the retrain in the audit trail; the items are read in a thread of
their own, on a connection of its own, so the screen keeps answering keys meanwhile. A
failure becomes one line in :attr:`BackgroundRetrainer.message`, never an exception in
the UI.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, TypeVar

from isp_nlp.errors import IspNlpError
from isp_nlp.review.items import build_review_items
from isp_nlp.review.queue import ReviewItem
from isp_nlp.store.database import Store
from isp_nlp.store.decisions import DecisionLog
from isp_nlp.store.folder import open_project

T = TypeVar("T")

#: The commands one retrain runs, in order (after ``--project DIR``).
STEPS: tuple[tuple[str, ...], ...] = (("train",), ("suggest",))


class BackgroundRetrainer:
    """Retrain (train + suggest) in a child process after every ``every`` decisions.

    ``coder`` is who the retrain is logged for and whose review items :meth:`poll`
    builds; ``store`` the review's open store (None: the project is opened when needed);
    ``train_args`` extra options of ``train`` (such as ``--target-agreement``).
    """

    def __init__(self, project_dir: str | Path, every: int, *, coder: str,
                 store: Store | None = None, train_args: Sequence[str] = (),
                 python: str = sys.executable) -> None:
        if every < 1:
            raise IspNlpError(f"--retrain-every is {every}; expected 1 or more decisions "
                              "between retrains; give a positive number.")
        self.project_dir = Path(project_dir)
        self.every = every
        self.coder = coder
        self.store = store
        self.train_args = tuple(train_args)
        self.python = python
        #: The last one-line status: what is running, what finished, or why it failed.
        self.message = ""
        self._last = 0  # decisions at the last start
        self._steps: list[tuple[str, ...]] = []
        self._step: tuple[str, ...] = ()
        self._child: subprocess.Popen | None = None
        self._log: IO[bytes] | None = None
        self._started = 0.0
        self._decisions = 0
        self._before: str | None = None
        #: Seconds the last finished retrain took (None before the first).
        self.last_seconds: float | None = None
        self._collector: threading.Thread | None = None
        self._collected: list[ReviewItem] | None = None

    @property
    def running(self) -> bool:
        """Whether a retrain is under way (started and not yet collected by :meth:`poll`)."""
        return self._child is not None

    def notify(self, decisions_made: int) -> bool:
        """Tell the retrainer how many decisions the coder has made; start a retrain when
        ``every`` more have been made since the last start and none is running. Return
        whether one was started."""
        if self.running or decisions_made - self._last < self.every:
            return False
        self._last = decisions_made
        self._decisions = decisions_made
        self._started = time.monotonic()
        try:
            self._before = self._with_store(_latest_id)
            self._steps = list(STEPS)
            self._next_step()
        except Exception as exc:  # noqa: BLE001 - reported as one line, never raised into the UI
            self._finish_child()
            self._steps = []
            self.message = f"retrain failed: {_one_line(str(exc)) or type(exc).__name__}"
            return False
        self.message = f"retraining after {decisions_made} decisions"
        return True

    def poll(self) -> list[ReviewItem] | None:
        """The new model's review items once the retrain has finished (and it is logged),
        else None: still running, nothing started, or failed (see :attr:`message`)."""
        child = self._child
        if child is None or child.poll() is None:
            return None
        if child.returncode != 0:
            self._fail(f"{' '.join(self._step)} exited with status {child.returncode}")
            return None
        if self._steps:
            self._next_step()
            return None
        if self._collector is None:
            seconds = round(time.monotonic() - self._started, 2)
            self._collector = threading.Thread(target=self._collect, args=(seconds,),
                                               name="isp-nlp retrain collect", daemon=True)
            self._collector.start()
        if self._collector.is_alive():
            return None
        self._collector = None
        self._finish_child()
        items, self._collected = self._collected, None
        return items

    def wait(self, timeout: float | None = None, interval: float = 0.05
             ) -> list[ReviewItem] | None:
        """Poll until the retrain is collected or ``timeout`` seconds pass (tests, scripts)."""
        end = None if timeout is None else time.monotonic() + timeout
        while self.running and (end is None or time.monotonic() < end):
            items = self.poll()
            if items is not None:
                return items
            time.sleep(interval)
        return None

    def close(self) -> None:
        """Stop a retrain still running (its child process only) and clean up."""
        if self._collector is not None:  # it is reading items: let it finish, briefly
            self._collector.join(timeout=30)
            self._collector = None
        if self._child is not None and self._child.poll() is None:
            self._child.terminate()
            try:
                self._child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._child.kill()
                self._child.wait()
        self._finish_child()
        self._steps = []

    # -- helpers ---------------------------------------------------------
    def _next_step(self) -> None:
        step = self._steps.pop(0)
        self._finish_child()
        self._log = tempfile.TemporaryFile()
        args = step + (self.train_args if step == ("train",) else ())
        self._step = step
        # The child imports the same isp_nlp as this process.
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (str(Path(__file__).resolve().parents[2]),
                        os.environ.get("PYTHONPATH", "")) if p)}
        self._child = subprocess.Popen(
            [self.python, "-m", "isp_nlp", "--project", str(self.project_dir), *args],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, env=env)

    def _fail(self, what: str) -> None:
        detail = ""
        if self._log is not None:
            self._log.seek(0)
            lines = [ln.strip() for ln in self._log.read().decode("utf-8", "replace")
                     .splitlines() if ln.strip()]
            detail = lines[-1] if lines else ""
        self._finish_child()
        self._steps = []
        self.message = _one_line(f"retrain failed: {what}" + (f": {detail}" if detail else ""))

    def _finish_child(self) -> None:
        self._child = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def _collect(self, seconds: float) -> None:
        """Log the retrain and read the new model's items (in the collector thread, on a
        connection of its own: a connection belongs to the thread that opened it)."""
        try:
            with open_project(self.project_dir) as store:
                after = _latest_id(store)
                DecisionLog(store).event(self.coder, "retrain", {
                    "before": self._before, "after": after, "seconds": seconds,
                    "decisions": self._decisions}, model_id=after)
                items = build_review_items(store, self.coder,
                                           DecisionLog(store).decided(self.coder))
        except Exception as exc:  # noqa: BLE001 - reported as one line, never raised into the UI
            self.message = f"retrain failed: {_one_line(str(exc)) or type(exc).__name__}"
            return
        self.last_seconds = seconds
        self.message = f"retrained in {seconds:.0f} s: model {after}, {len(items)} items"
        self._collected = items

    def _with_store(self, use: Callable[[Store], T]) -> T:
        if self.store is not None:
            return use(self.store)
        with open_project(self.project_dir) as store:
            return use(store)


def _latest_id(store: Store) -> str | None:
    info = store.latest_model()
    return None if info is None else str(info["id"])


def _one_line(text: str, width: int = 200) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[:width - 1] + "…"
