"""The README stays a short entry point whose links lead somewhere, and the version is one."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import isp_nlp
from isp_nlp.interchange.refi_export import origin
from tests.builders.paths import REPO

README = REPO / "README.md"
CHANGELOG = REPO / "CHANGELOG.md"


def test_the_readme_is_at_most_150_lines() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 150, f"README.md has {len(lines)} lines; move detail into docs/"


def test_every_local_link_of_the_readme_exists() -> None:
    text = README.read_text(encoding="utf-8")
    targets = [t.split("#")[0] for t in re.findall(r"\]\(([^)\s]+)\)", text)
               if not re.match(r"[a-z]+:", t)]
    assert targets, "README.md links nowhere"
    missing = [t for t in targets if t and not (REPO / t).exists()]
    assert missing == [], f"README.md links to missing files: {missing}"
    docs = {p.name for p in (REPO / "docs").glob("*.md")}
    linked = {Path(t).name for t in targets if t.startswith("docs/")}
    assert docs - {"index.md"} <= linked, f"README.md does not link {docs - linked - {'index.md'}}"


def test_one_version_everywhere() -> None:
    """__version__, the installed metadata (stale until reinstalled: `make setup`), the origin
    our .qdpx files carry and the newest release in CHANGELOG.md agree."""
    released = re.findall(r"^## \[(\d+\.\d+\.\d+)\]", CHANGELOG.read_text("utf-8"), re.M)
    assert released, "CHANGELOG.md names no released version"
    assert released[0] == isp_nlp.__version__, (released[0], isp_nlp.__version__)
    assert metadata.version("isp-nlp") == isp_nlp.__version__, "reinstall: make setup"
    assert origin() == f"isp-nlp {isp_nlp.__version__}"
