"""Two coders, 1,000 decisions, nothing lost: two ``isp-nlp review --script`` processes
per turn, one per coder, record 500 decisions each on one SQLite project at the same
time; every decision is stored once and neither process meets a locked database."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from isp_nlp.store.decisions import DECISION_ACTIONS, DecisionLog
from isp_nlp.store.folder import open_project
from tests.builders.paths import REPO
from tests.builders.review_project import review_project

DECISIONS = 500  # per coder
RUNS = 2  # review commands per coder, one after the other (the second resumes)
PER_RUN = DECISIONS // RUNS
#: Final actions only (a skip sends an item to the end of the queue, to be decided again).
PATTERN = ("a", "r", "e:training", "a", "e:coaching+barriers", "r")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return review_project(tmp_path_factory.mktemp("two_coders"), open_turns=DECISIONS + 20)


def _script(run: int) -> str:
    return ",".join(PATTERN[(run * PER_RUN + i) % len(PATTERN)] for i in range(PER_RUN))


def _coder(project: Path, coder: str) -> list[tuple[int, str]]:
    """``RUNS`` review commands of ``coder`` in a row: (exit status, stdout + stderr)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "ISP_NLP_LOCK_TIMEOUT": "60"}
    out = []
    for run in range(RUNS):
        done = subprocess.run(
            [sys.executable, "-m", "isp_nlp", "--project", str(project), "review",
             "--coder", coder, "--order", "document", "--script", _script(run)],
            capture_output=True, text=True, env=env, timeout=300, cwd=REPO)
        out.append((done.returncode, done.stdout + done.stderr))
    return out


def test_two_coders_record_1000_decisions_and_lose_none(project: Path) -> None:
    with open_project(project) as store:
        with_suggestions = {s.segment_id for s in store.suggestions(
            store.latest_model()["id"])}  # type: ignore[index]
    assert len(with_suggestions) >= DECISIONS  # enough review items for each coder
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(("ana", "ben"), pool.map(lambda c: _coder(project, c),
                                                    ("ana", "ben")), strict=True))
    seconds = time.perf_counter() - start
    for coder, runs in results.items():
        for status, output in runs:
            assert status == 0, (coder, output)
            assert "locked" not in output.casefold(), (coder, output)
            assert "Traceback" not in output, (coder, output)
            done = re.search(rf"Review by {coder}: (\d+) accepted, (\d+) rejected, (\d+) "
                             r"relabelled, 0 skipped, 0 undone", " ".join(output.split()))
            assert done and sum(map(int, done.groups())) == PER_RUN, (coder, output)
    with open_project(project) as store:
        log = DecisionLog(store)
        rows = [e for e in log.entries() if e["action"] in DECISION_ACTIONS]
        assisted = Counter(a.coder for a in store.annotations() if a.source == "assisted")
    by_coder = Counter(e["coder"] for e in rows)
    assert by_coder == {"ana": DECISIONS, "ben": DECISIONS}
    keys = Counter((e["coder"], e["item_key"]) for e in rows)
    assert len(keys) == 2 * DECISIONS and set(keys.values()) == {1}  # none twice
    assert not any(e["undone"] for e in rows)
    for coder in ("ana", "ben"):
        accepted = [e for e in rows if e["coder"] == coder and e["action"] != "reject"]
        assert assisted[coder] >= len(accepted)  # each accept/relabel wrote its codes
    # the two processes really wrote at the same time: the log interleaves them
    order = [e["coder"] for e in rows]
    switches = sum(a != b for a, b in zip(order, order[1:], strict=False))
    assert switches >= 1, switches
    waits = sum(output.count("Waiting for another") for runs in results.values()
                for _, output in runs)
    print(f"two coders: {2 * DECISIONS} decisions in {seconds:.1f} s, "
          f"{switches} switches between coders in the log, {waits} announced waits")
