"""The limits table of docs/limits.md states the numbers the code enforces, and nothing else."""

from __future__ import annotations

import importlib
import re

import pytest

from tests.builders.paths import PACKAGE, REPO

DOC = REPO / "docs" / "limits.md"
HEADER = "| What | Limit | Constant |"


def _rows() -> list[tuple[str, str, str]]:
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = lines.index(HEADER) + 2  # past the header and its |---| line
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        what, limit, constant = (cell.strip() for cell in line.strip("|").split("|"))
        rows.append((what, limit, constant.strip("`")))
    return rows


ROWS = _rows()


def test_the_table_is_there_and_names_each_constant_once() -> None:
    constants = [c for _, _, c in ROWS]
    assert len(ROWS) >= 25
    assert len(set(constants)) == len(constants)


@pytest.mark.parametrize(("what", "limit", "constant"), ROWS, ids=[c for _, _, c in ROWS])
def test_each_documented_limit_is_the_one_enforced(what: str, limit: str, constant: str) -> None:
    module, _, name = constant.rpartition(".")
    value = getattr(importlib.import_module(f"isp_nlp.{module}"), name)
    stated = int(re.match(r"[\d,]+", limit).group().replace(",", ""))  # type: ignore[union-attr]
    assert stated == value, f"docs/limits.md says {limit} for {what}; the code has {value}"


def test_every_max_constant_of_an_input_reader_is_documented() -> None:
    """A new MAX_ constant in a module that reads user files must join the table."""
    documented = {c for _, _, c in ROWS}
    package = PACKAGE
    readers = ("ingest/decode.py", "ingest/docx.py", "codebook/load.py", "codebook/check.py",
               "ingest/safe_zip.py", "ingest/safe_xml.py", "interchange/offsets.py",
               "interchange/refi_codebook.py", "interchange/sheet_rows.py",
               "interchange/pseudonyms.py", "interchange/pseudonym_key.py",
               "interchange/excerpt_import.py", "interchange/refi_state.py")
    missing = []
    for rel in readers:
        module = rel.removesuffix(".py").replace("/", ".")
        for name in re.findall(r"^(MAX_[A-Z_]+) = ", (package / rel).read_text("utf-8"), re.M):
            if f"{module}.{name}" not in documented:
                missing.append(f"{module}.{name}")
    assert not missing, f"limits enforced but not in the table of docs/limits.md: {missing}"
