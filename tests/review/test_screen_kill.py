"""kill -9 during a full-screen review in a pseudo-terminal never loses a decision the
screen acknowledged (``[saved N]``), and never stores one twice.

The real ``python -m isp_nlp ... review`` runs at 80x24 under pexpect; at 20 seeded random
moments (some while keys are still being handled) it is killed with SIGKILL, the last
``[saved N]`` it drew is read from its output, and the project is reopened and checked;
then the review is started again on the same project and continues.
"""

from __future__ import annotations

import io
import os
import random
import re
import signal
import sys
from collections import Counter
from pathlib import Path

import pexpect

from isp_nlp.store.decisions import DECISION_ACTIONS, FINAL_ACTIONS, DecisionLog
from isp_nlp.store.folder import open_project
from tests.builders.paths import REPO
from tests.builders.review_queue import suggested_project

ROUNDS = 20
SAVED = re.compile(rb"\[saved (\d+)\]")
STYLE = re.compile(rb"\x1b\[[0-9;:]*m")  # colours only: a cursor move stays and splits text


def decision_rows(project: Path, coder: str) -> list[dict]:
    with open_project(project) as store:
        return [e for e in DecisionLog(store).entries(coder) if e["action"] in DECISION_ACTIONS]


def last_acknowledged(output: bytes) -> int:
    """The last ``[saved N]`` drawn (0 if none)."""
    found = SAVED.findall(STYLE.sub(b"", output))
    return int(found[-1]) if found else 0


def test_kill_9_keeps_every_acknowledged_decision(tmp_path: Path) -> None:
    project = suggested_project(tmp_path, documents=5, turns=100)
    env = {**os.environ, "TERM": "xterm-256color", "PYTHONPATH": str(REPO),
           "COLUMNS": "80", "LINES": "24"}
    rng = random.Random(1206)
    before = 0
    acknowledged_total = 0
    for _ in range(ROUNDS):
        output = io.BytesIO()
        child = pexpect.spawn(sys.executable, ["-m", "isp_nlp", "--project", str(project),
                                               "review", "--coder", "kim"],
                              env=env, dimensions=(24, 80), timeout=30)
        child.logfile_read = output
        try:
            child.expect(rb"\[saved 0\]")  # the first segment is on screen
            keys = "".join(rng.choice("aaarrs12") for _ in range(rng.randint(1, 8)))
            decisions = sum(k in "ars" for k in keys)
            child.send(keys)
            wait_for = rng.randint(0, decisions)  # kill now, or once that many are saved
            while wait_for:  # keys typed ahead are handled in a batch: N may jump
                child.expect(SAVED)
                if int(child.match.group(1)) >= wait_for:
                    break
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.expect(pexpect.EOF)
            child.close()
        assert child.signalstatus == signal.SIGKILL
        acked = last_acknowledged(output.getvalue())
        assert acked >= wait_for
        rows = decision_rows(project, "kim")
        stored = len(rows) - before
        assert acked <= stored <= decisions, (keys, acked, stored)
        before = len(rows)
        acknowledged_total += acked
    rows = decision_rows(project, "kim")
    assert len(rows) >= acknowledged_total > 0
    settled = Counter(e["item_key"] for e in rows
                      if e["action"] in FINAL_ACTIONS and not e["undone"])
    assert settled and max(settled.values()) == 1  # no item decided twice
