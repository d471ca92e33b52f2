"""A corpus of hostile and malformed inputs, generated at test time.

Every case runs one command against a small project and must end with exit status 2,
one line on the terminal, no traceback, and the project database unchanged (row counts
of every table, and SQLite's integrity check).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from isp_nlp.cli import cli
from isp_nlp.store.database import project_db
from tests.builders.paths import CORPUS

DOC = "isp01_child_welfare_coach"
HEADER = "document,segment,text,coder,code,stage,speaker\n"
GOOD_ROW = f'{DOC},,"Sure.",ana,,none,P01\n'
#: The text of a real segment of DOC, so that CSV rows land on the project.
TURN = ("Sure. So right now I'm an implementation coach at the state's child welfare training "
        "institute, which is, uh, a partnership between the university and the state agency. "
        "I've been there about fourteen years. Before that I was a caseworker, investigations "
        "first and then in-home services, for about six years, so I came into this from the "
        "front line, not from research.")


@pytest.fixture(scope="module")
def base_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    project = root / "project"
    run = CliRunner().invoke
    assert run(cli, ["init", str(project), "--embedder", "hashing-256"]).exit_code == 0
    assert run(cli, ["--project", str(project), "codebook", "load",
                     str(CORPUS / "codebook.yaml")]).exit_code == 0
    assert run(cli, ["--project", str(project), "ingest", "--skip-speakers", "Interviewer",
                     str(CORPUS / "transcripts" / f"{DOC}.txt")]).exit_code == 0
    seeds = root / "seeds.csv"
    lines = (CORPUS / "seed_codes.csv").read_text("utf-8").splitlines(keepends=True)
    seeds.write_text(lines[0] + "".join(x for x in lines[1:] if x.startswith(DOC)), "utf-8")
    for words in (["import-codes", str(seeds)], ["train", "--folds", "2"], ["suggest"]):
        result = run(cli, ["--project", str(project), *words])
        assert result.exit_code == 0, result.output
    return project


def _snapshot(project: Path) -> dict[str, object]:
    conn = sqlite3.connect(project_db(project))
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        out: dict[str, object] = {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]
                                  for t in tables}
        out["integrity"] = conn.execute("PRAGMA integrity_check").fetchone()[0]
        out["meta"] = conn.execute("SELECT * FROM meta ORDER BY key").fetchall()
        return out
    finally:
        conn.close()


def _yaml_deep(n: int) -> bytes:
    return ("codes: " + "[" * n + "]" * n + "\n").encode()


def _yaml_bomb() -> bytes:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(8):
        prev, name = chr(97 + i), chr(98 + i)
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return ("\n".join(lines) + "\ncodes:\n  - id: x\n    definition: *i\n").encode()


def _sparse(size: int) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        with path.open("wb") as fh:
            fh.truncate(size)
    return make


def _fifo(path: Path) -> None:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    os.mkfifo(path)


def _dev_zero(path: Path) -> None:
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero on this platform")
    path.symlink_to("/dev/zero")


def _docx_with(member: str, *, symlink: bool = False) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        import zipfile

        with zipfile.ZipFile(path, "w") as z:
            z.writestr("[Content_Types].xml", "<Types/>")
            info = zipfile.ZipInfo(member)
            if symlink:
                info.external_attr = (0o120777 << 16)
            z.writestr(info, "/etc/passwd" if symlink else "x")
    return make


def _folder(path: Path) -> None:
    path.mkdir()
    (path / "inside.txt").write_text("Interviewer: hi\n", "utf-8")


Content = bytes | str | Callable[[Path], None]

#: (case id, file name, content, command words with {f} for the file's path, expected words)
CASES: list[tuple[str, str, Content, tuple[str, ...], str]] = [
    # --- codebook load / check
    ("codebook-nul", "cb.yaml", b"codes:\n  - id: a\x00b\n", ("codebook", "load", "{f}"),
     "NUL byte"),
    ("codebook-deep-flow", "cb.yaml", _yaml_deep(20_000), ("codebook", "load", "{f}"),
     "nested too deeply"),
    ("codebook-deep-block", "cb.yaml",
     "".join("  " * i + f"k{i}:\n" for i in range(3000)), ("codebook", "load", "{f}"),
     "nested too deeply"),
    ("codebook-alias-bomb", "cb.yaml", _yaml_bomb(), ("codebook", "load", "{f}"), "aliases"),
    ("codebook-fifo", "cb.yaml", _fifo, ("codebook", "load", "{f}"), "not a regular file"),
    ("codebook-dev-zero", "cb.yaml", _dev_zero, ("codebook", "load", "{f}"),
     "not a regular file"),
    ("codebook-folder", "cbdir", _folder, ("codebook", "load", "{f}"), "directory"),
    ("codebook-empty", "cb.yaml", b"", ("codebook", "load", "{f}"), "empty"),
    ("codebook-only-comments", "cb.yaml", b"# nothing\n", ("codebook", "load", "{f}"),
     "holds no codebook"),
    ("codebook-latin1", "cb.yaml", "codes:\n  - id: caf\xe9\n".encode("latin-1"),
     ("codebook", "load", "{f}"), "not valid UTF-8"),
    ("codebook-tabs", "cb.yaml", b"codes:\n\t- id: a\n", ("codebook", "load", "{f}"), "YAML"),
    ("codebook-duplicate-key", "cb.yaml", b"codes:\n  - id: a\n    id: b\n",
     ("codebook", "load", "{f}"), "appears twice"),
    ("codebook-codes-number", "cb.yaml", b"codes: 5\n", ("codebook", "load", "{f}"), "codes"),
    ("codebook-huge", "cb.yaml", _sparse(30_000_000), ("codebook", "load", "{f}"),
     "is refused"),
    ("codebook-png", "cb.yaml", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
     ("codebook", "load", "{f}"), "cb.yaml"),
    ("codebook-json-broken", "cb.json", b'{"codes": [{"id": "a",}', ("codebook", "load", "{f}"),
     "cb.json"),
    ("codebook-python-object", "cb.yaml", b"codes: !!python/object/apply:os.system ['true']\n",
     ("codebook", "load", "{f}"), "cb.yaml"),
    ("codebook-cycle", "cb.yaml",
     b"codes:\n  - {id: a, parent: b}\n  - {id: b, parent: a}\n", ("codebook", "load", "{f}"),
     "cycle"),
    ("codebook-check-bomb", "cb.yaml", _yaml_bomb(), ("codebook", "check", "{f}"), "aliases"),
    # --- ingest
    ("ingest-fifo", "t.txt", _fifo, ("ingest", "{f}"), "not a regular file"),
    ("ingest-dev-zero", "t.txt", _dev_zero, ("ingest", "{f}"), "not a regular file"),
    ("ingest-folder", "tdir", _folder, ("ingest", "{f}"), "directory"),
    ("ingest-empty", "t.txt", b"", ("ingest", "{f}"), "empty"),
    ("ingest-huge", "t.txt", _sparse(60_000_000), ("ingest", "{f}"), "are refused"),
    ("ingest-pdf-as-txt", "t.txt", b"%PDF-1.7\n" + bytes(range(256)) * 8, ("ingest", "{f}"),
     "PDF"),
    ("ingest-zip-as-txt", "t.txt", b"PK\x03\x04" + bytes(200), ("ingest", "{f}"), "ZIP"),
    ("ingest-docx-not-zip", "t.docx", b"<html><body>not a docx</body></html>",
     ("ingest", "{f}"), "t.docx"),
    ("ingest-docx-empty-zip", "t.docx", b"PK\x05\x06" + bytes(18), ("ingest", "{f}"),
     "t.docx"),
    ("ingest-docx-zip-slip", "t.docx", _docx_with("../../evil.xml"), ("ingest", "{f}"),
     "outside the archive"),
    ("ingest-docx-absolute", "t.docx", _docx_with("/etc/evil.xml"), ("ingest", "{f}"),
     "absolute path"),
    ("ingest-docx-symlink", "t.docx", _docx_with("word/document.xml", symlink=True),
     ("ingest", "{f}"), "symbolic link"),
    ("ingest-vtt-bad-timing", "t.vtt", b"WEBVTT\n\n00:00:01.000 --> soon\nhello\n",
     ("ingest", "{f}"), "t.vtt"),
    ("ingest-srt-garbage", "t.srt", b"1\nnot a timing\nhello\n", ("ingest", "{f}"), "t.srt"),
    ("ingest-unsupported", "t.rtf", b"{\\rtf1 hello}", ("ingest", "{f}"), "expected one of"),
    ("ingest-missing", "absent.txt", None, ("ingest", "{f}"), "does not exist"),  # type: ignore[list-item]
    ("ingest-only-labels", "t.txt", b"Interviewer:\n\nP01:\n", ("ingest", "{f}"),
     "no transcript text"),
    ("ingest-binary-noise", "t.txt", bytes([0, 255, 1, 254] * 500), ("ingest", "{f}"), "t.txt"),
    ("ingest-skip-unit", "t.txt", b"P1: hi\n", ("ingest", "--unit", "word", "{f}"), "--unit"),
    # --- import-codes
    ("codes-unknown-document", "c.csv", HEADER + 'nosuch,,"Sure.",ana,,none,P01\n',
     ("import-codes", "{f}"), "unknown document"),
    ("codes-missing-columns", "c.csv", "document,text\nx,y\n", ("import-codes", "{f}"),
     "c.csv"),
    ("codes-nul", "c.csv", (HEADER + GOOD_ROW).encode() + b"\x00\n", ("import-codes", "{f}"),
     "c.csv"),
    ("codes-fifo", "c.csv", _fifo, ("import-codes", "{f}"), "c.csv"),
    ("codes-unknown-code", "c.csv", HEADER + f'{DOC},,"{TURN}",ana,no_such_code,none,P01\n',
     ("import-codes", "{f}"), "no_such_code"),
    ("codes-bad-stage", "c.csv", HEADER + f'{DOC},,"{TURN}",ana,,pushh,P01\n',
     ("import-codes", "{f}"), "pushh"),
    ("codes-empty", "c.csv", b"", ("import-codes", "{f}"), "c.csv"),
    ("codes-header-only", "c.csv", HEADER, ("import-codes", "{f}"), "c.csv"),
    ("codes-latin1", "c.csv", (HEADER + f'{DOC},,"caf\xe9",ana,,none,P01\n').encode("latin-1"),
     ("import-codes", "{f}"), "c.csv"),
    ("codes-bad-offsets", "c.csv",
     "document,start,end,coder,code\n" + f"{DOC},abc,10,ana,didactic_training\n",
     ("import-codes", "{f}"), "c.csv"),
    # --- agreement on a CSV
    ("agreement-bad-stage", "a.csv",
     HEADER + f'{DOC},,"{TURN}",ana,,pushh,P01\n{DOC},,"{TURN}",ben,,push,P01\n',
     ("agreement", "{f}"), "pushh"),
    ("agreement-empty", "a.csv", b"", ("agreement", "{f}"), "a.csv"),
    ("agreement-no-unit", "a.csv", "document,coder,code\nd,ana,x\n", ("agreement", "{f}"),
     "a.csv"),
    # --- evaluate
    ("evaluate-codebook-bomb", "cb.yaml", _yaml_bomb(),
     ("evaluate", str(CORPUS / "seed_codes.csv"), "--folds", "2", "--embedder", "hashing-256",
      "--codebook", "{f}"), "aliases"),
    ("evaluate-codebook-deep", "cb.yaml", _yaml_deep(20_000),
     ("evaluate", str(CORPUS / "seed_codes.csv"), "--folds", "2", "--embedder", "hashing-256",
      "--codebook", "{f}"), "nested too deeply"),
    ("evaluate-empty-csv", "e.csv", b"", ("evaluate", "{f}", "--folds", "2", "--embedder",
                                          "hashing-256"), "e.csv"),
    # --- suggest / review without a model, and bad review scripts
    ("suggest-bad-threshold", "unused", b"", ("suggest", "--code-threshold", "2"),
     "--code-threshold"),
    ("review-bad-script", "unused", b"", ("review", "--coder", "ana", "--script", "a,a,zzz"),
     "no decision was made"),
    ("review-empty-coder", "unused", b"", ("review", "--coder", " ", "--script", "q"),
     "coder"),
    # --- usage mistakes
    ("usage-unknown-command", "unused", b"", ("nosuch",), "No such command"),
    ("usage-missing-option", "unused", b"", ("review", "--script", "q"), "--coder"),
]


@pytest.mark.parametrize(("name", "content", "words", "expected"),
                         [pytest.param(c[1], c[2], c[3], c[4], id=c[0]) for c in CASES])
def test_hostile_input_is_one_line_exit_2_and_changes_nothing(
        base_project: Path, tmp_path: Path, name: str, content: Content,
        words: tuple[str, ...], expected: str) -> None:
    project = tmp_path / "project"
    shutil.copytree(base_project, project)
    path = tmp_path / name
    if callable(content):
        content(path)
    elif isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    elif content is not None:
        path.write_bytes(content)
    before = _snapshot(project)
    args = [w.replace("{f}", str(path)) for w in words]
    result = CliRunner().invoke(cli, ["--project", str(project), *args])
    output = result.output
    assert result.exit_code == 2, output
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), output
    assert expected.casefold() in lines[0].casefold(), lines[0]
    assert _snapshot(project) == before


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 55
    assert len({c[0] for c in CASES}) == len(CASES)


def test_a_docx_that_unpacks_beyond_the_limit_is_refused_before_parsing(
        base_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import zipfile

    monkeypatch.setattr("isp_nlp.ingest.docx.MAX_DOCX_UNPACKED", 1_000_000)
    bomb = tmp_path / "bomb.docx"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("word/document.xml", "<w:p/>" * 400_000)  # 2.4 MB, compresses to KB
    assert bomb.stat().st_size < 100_000
    project = tmp_path / "project"
    shutil.copytree(base_project, project)
    before = _snapshot(project)
    result = CliRunner().invoke(cli, ["--project", str(project), "ingest", str(bomb)])
    assert result.exit_code == 2 and "possibly a zip bomb" in result.output
    assert _snapshot(project) == before
