"""Pseudonymisation under Unicode variants: case folding, NFKC/NFD, apostrophes, hyphens,
transliterations; hostile --names/--key paths; unfound names; the export's final check."""

from __future__ import annotations

import json
import os
import re
import resource
import sqlite3
import subprocess
import sys
import unicodedata
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from isp_nlp.cli import cli
from isp_nlp.embed import text_key
from isp_nlp.errors import InputFileError
from isp_nlp.interchange.name_match import NameMatcher, fold
from isp_nlp.interchange.pseudonymise import TEXTS_SETTING, pseudonymise_project
from isp_nlp.interchange.pseudonyms import (
    NameEntry,
    apply_plan,
    map_span,
    plan_pseudonyms,
    read_names,
    replace_names,
)
from isp_nlp.project import ingest_files, load_project_codebook
from isp_nlp.records import Note
from isp_nlp.store.folder import init_project, open_project

# -- generated names and their renderings ----------------------------------------------------
# Names use only these letters; filler words only letters that no name uses, so filler can
# never hold a name by accident.
NAME_LETTERS = "aeiouäöüéëèâíñnrstklmjzßøæłçš"
FILLER = ["xv", "bygd", "why", "hw", "cq", "fyx", "dw", "pgh", "vyb", "qhw"]
GAPS = [" ", ", ", ".\n", " (", ") ", "\n\n", ": ", " — ", "! ", "; ", "\t", "\u00a0"]
APOSTROPHES = "'’‘ʼ′`"
HYPHENS = "-‐‑‒–—−\u00ad"
TRANSLIT = {"ß": "ss", "ø": "o", "æ": "ae", "ł": "l"}


@st.composite
def names(draw: st.DrawFn) -> str:
    words = []
    for _ in range(draw(st.integers(1, 2))):
        word = draw(st.text(NAME_LETTERS, min_size=2, max_size=7))
        joint = draw(st.sampled_from(["", "", "'", "-"]))
        if joint:
            word += joint + draw(st.text(NAME_LETTERS, min_size=2, max_size=5))
        words.append(word[0].upper() + word[1:])
    return " ".join(words)


def _plain(s: str) -> str:
    """Diacritics dropped and letters transliterated, written apart from name_match."""
    out = []
    for c in s:
        t = TRANSLIT.get(c.lower())
        out.append(c if t is None else t if c == c.lower() else t.upper())
    s = "".join(out)
    return "".join(c for c in unicodedata.normalize("NFD", s) if not unicodedata.combining(c))


@st.composite
def renderings(draw: st.DrawFn, name: str) -> str:
    """``name`` as a transcript may spell it."""
    s = name
    if draw(st.booleans()):
        s = _plain(s)
    s = draw(st.sampled_from([str.upper, str.lower, str.title, str]))(s)
    s = re.sub("'", lambda _: draw(st.sampled_from(APOSTROPHES)), s)
    s = re.sub("-", lambda _: draw(st.sampled_from(HYPHENS)), s)
    s = re.sub(" ", lambda _: draw(st.sampled_from([" ", "\n", "  ", "\u00a0"])), s)
    return unicodedata.normalize(draw(st.sampled_from(["NFC", "NFD", "NFKC"])), s)


def _simple(text: str) -> str:
    """An independent, blunt normaliser: casefold, drop marks and every apostrophe and
    hyphen, transliterate, collapse spaces."""
    text = _plain(text.casefold())
    text = re.sub(f"[{re.escape(APOSTROPHES)}]", "", text)
    text = re.sub(f"[{re.escape(HYPHENS)}\\s]+", " ", text)
    return text.casefold()


def _holds(name: str, text: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(_simple(name))}(?!\w)", _simple(text)) is not None


@settings(max_examples=150, deadline=None)
@given(data=st.data(), name=names())
def test_no_rendering_of_a_name_survives(data: st.DataObject, name: str) -> None:
    plan = plan_pseudonyms([NameEntry(name, pseudonym="P01", line=2)])
    pieces: list[str] = []
    for _ in range(data.draw(st.integers(1, 4))):
        pieces.append(data.draw(st.sampled_from(FILLER)))
        pieces.append(data.draw(st.sampled_from(GAPS)))
        pieces.append(data.draw(renderings(name)))
        pieces.append(data.draw(st.sampled_from([*GAPS, "'s ", "’s "])))
    pieces.append(data.draw(st.sampled_from(FILLER)))
    old = "".join(pieces)
    new, edits = apply_plan(plan, old)
    assert len(edits) == len(pieces) // 4
    assert NameMatcher([name]).first(new) is None  # the same rule
    assert not _holds(name, new), (name, old, new)  # and a blunt independent check
    pos = 0
    rebuilt = []
    for e in edits:  # offsets: each edit covers one rendering, the rest is untouched
        assert NameMatcher([name]).whole(old[e.old_start:e.old_end]) == 0
        assert new[e.new_start:e.new_end] == "P01"
        rebuilt += [old[pos:e.old_start], "P01"]
        pos = e.old_end
    assert "".join([*rebuilt, old[pos:]]) == new
    for start, end in [(0, len(old))] + [(e.old_start, e.old_end) for e in edits]:
        a, b = map_span(edits, start, end)
        assert new[a:b] == replace_names(plan, old[start:end])


@settings(max_examples=100, deadline=None)
@given(data=st.data(), listed=st.lists(names(), min_size=2, max_size=5))
def test_each_match_is_the_name_it_says(data: st.DataObject, listed: list[str]) -> None:
    entries, keys = [], set()
    for n in listed:  # names that match alike are one row of names.csv
        if NameMatcher([n]).whole(" ".join(k for k in keys)) is None and \
                all(NameMatcher([k]).whole(n) is None for k in keys):
            entries.append(NameEntry(n, pseudonym=f"P{len(entries) + 1:02d}",
                                     line=len(entries) + 2))
            keys.add(n)
    plan = plan_pseudonyms(entries)
    said = data.draw(st.lists(st.sampled_from([e.name for e in entries]), min_size=1,
                              max_size=6))
    old = " xv ".join(data.draw(renderings(n)) for n in said)
    new, edits = apply_plan(plan, old)
    for e in edits:  # the longest listed name wins, and it is the one recorded
        assert NameMatcher([e.name]).whole(old[e.old_start:e.old_end]) == 0
    for n in keys:
        assert NameMatcher([n]).first(new) is None


@settings(max_examples=150, deadline=None)
@given(data=st.data(), name=names())
def test_text_without_the_name_is_unchanged(data: st.DataObject, name: str) -> None:
    plan = plan_pseudonyms([NameEntry(name, pseudonym="P01", line=2)])
    words = data.draw(st.lists(st.sampled_from(FILLER + ["P01", "Annabel", "Zoey", "José"]),
                               min_size=1, max_size=12))
    gaps = data.draw(st.lists(st.sampled_from(GAPS + list(HYPHENS + APOSTROPHES)),
                              min_size=len(words), max_size=len(words)))
    text = "".join(w + g for w, g in zip(words, gaps, strict=True))
    if _holds(name, text):  # a drawn name may be one of the extra words
        return
    assert apply_plan(plan, text) == (text, ())


@settings(max_examples=100, deadline=None)
@given(data=st.data(), name=names())
def test_a_name_inside_a_longer_word_is_kept(data: st.DataObject, name: str) -> None:
    plan = plan_pseudonyms([NameEntry(name, pseudonym="P01", line=2)])
    glued = data.draw(st.sampled_from(["{}x", "x{}", "{}\u0301x", "{}_", "{}9", "{}\u093f"]))
    text = "xv " + glued.format(data.draw(renderings(name))) + " xv"
    assert replace_names(plan, text) == text


@pytest.mark.parametrize(("listed", "text", "n"), [
    ("Strauß", "STRAUSS Strauss strauß STRAUẞ", 4),
    ("O'Brien", "O’Brien O‘Brien Oʼbrien O′BRIEN O`Brien OBrien", 6),
    ("Jean-Luc", "Jean‑Luc Jean‐Luc Jean–Luc Jean\u00adLuc JEAN—LUC Jean Luc", 6),
    ("Zoë", "Zoe ZOE zoë Zoe\u0308 ZOË", 5),
    ("Ilker", "İlker ILKER ılker", 3),
    ("İlker", "Ilker ilker İLKER", 3),
    ("Müller", "Muller Mueller MÜLLER Mül\u00adler Mu\u0308ller", 5),
    ("Søren Kierkegaard", "Soren  Kierkegaard SØREN\nKIERKEGAARD", 2),
    ("Łukasz", "Lukasz ŁUKASZ", 2),
    ("Þóra", "Thora THÓRA", 2),
])
def test_every_variant_is_replaced(listed: str, text: str, n: int) -> None:
    plan = plan_pseudonyms([NameEntry(listed, pseudonym="P01", line=2)])
    new, edits = apply_plan(plan, text)
    assert new == " ".join(["P01"] * n) and len(edits) == n


def test_exact_case_speakers_and_boundaries_still_hold() -> None:
    plan = plan_pseudonyms([NameEntry("Anna", pseudonym="P03"), NameEntry("Mu", "P09")],
                           ["Mum", "MUM Jo", "Mum Jo"])
    assert replace_names(plan, "Mum: my mum, MUM and Mum’s Anna-Lena, Annabel, Anna\u093f") == (
        "P01: my mum, MUM and P01’s P03-Lena, Annabel, Anna\u093f")
    assert replace_names(plan, "Mum Jo, MUM Jo, mum jo, MU") == "P02, P02, mum jo, P09"
    assert fold("İlker ß").key == "ilker ss"


# -- the command, end to end ------------------------------------------------------------
def _project(tmp_path: Path, text: str) -> Path:
    directory = tmp_path / "proj"
    init_project(directory, embedder="hashing-256")
    (tmp_path / "t.txt").write_text(text, encoding="utf-8")
    book = tmp_path / "codebook.yaml"
    book.write_text("name: Book\ncodes:\n  - id: c1\n    name: Topic\n", encoding="utf-8")
    with open_project(directory) as store:
        ingest_files(store, [tmp_path / "t.txt"])
        load_project_codebook(store, book)
    return directory


def _text(directory: Path) -> str:
    with open_project(directory) as store:
        return store.transcript_texts()["t"]


@pytest.mark.parametrize(("listed", "variant"), [
    ("Strauß", "STRAUSS"), ("Strauß", "Strauss"), ("O'Brien", "O’Brien"),
    ("Jean-Luc", "Jean‑Luc"), ("Zoë", "Zoe"), ("Ilker", "İlker"),
])
def test_cli_replaces_the_variant(tmp_path: Path, listed: str, variant: str) -> None:
    project = _project(tmp_path, f"Interviewer: Did {variant} come?\nSpeaker 2: Yes.\n")
    names = tmp_path / "names.csv"
    names.write_text(f"name\n{listed}\n", encoding="utf-8")
    key = tmp_path / "keys" / "key.csv"
    result = CliRunner().invoke(cli, ["--project", str(project), "pseudonymise", "--names",
                                      str(names), "--key", str(key)])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and "Warning" not in result.output
    assert _text(project).startswith("Interviewer: Did [Person 1] come?")
    assert key.read_text(encoding="utf-8").splitlines()[1].endswith(",[Person 1],,1")
    assert variant.casefold() not in result.output.casefold()


#: Runs each argument list (JSON on argv) through the CLI, prints exit codes and stderr.
PROBE = """
import json, sys
from click.testing import CliRunner
from isp_nlp.cli import cli
out = []
for args in json.loads(sys.argv[1]):
    r = CliRunner().invoke(cli, args)
    out.append([r.exit_code, r.stderr])
print(json.dumps(out))
"""


def _probe(cases: list[list[str]], timeout: float = 60) -> list[tuple[int, str]]:
    """The CLI on ``cases`` in one child process with 2 GB of memory, so a hang or an
    endless read is stopped (on the old code a FIFO blocked and /dev/zero was read until
    memory ran out)."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3))
    proc = subprocess.run([sys.executable, "-c", PROBE, json.dumps(cases)],
                          capture_output=True, text=True, timeout=timeout, preexec_fn=limit,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    return [(code, err) for code, err in json.loads(proc.stdout.strip().splitlines()[-1])]


@pytest.mark.skipif(not hasattr(os, "mkfifo") or not Path("/dev/zero").exists(),
                    reason="needs FIFOs and /dev/zero")
def test_cli_names_and_key_that_are_not_files(tmp_path: Path) -> None:
    project = _project(tmp_path, "Interviewer: Hi Jane.\n")
    names = tmp_path / "names.csv"
    names.write_text("name\nJane\n", encoding="utf-8")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    key = str(tmp_path / "k.csv")
    cases = [
        (["--names", str(fifo), "--key", key], "names file"),
        (["--names", "/dev/zero", "--key", key], "names file"),
        (["--names", str(tmp_path), "--key", key], "names file"),
        (["--names", str(names), "--key", str(fifo)], "the pseudonym key"),
        (["--names", str(names), "--key", "/dev/zero"], "the pseudonym key"),
    ]
    base = ["--project", str(project), "pseudonymise"]
    results = _probe([[*base, *args] for args, _ in cases])
    for (args, what), (code, err) in zip(cases, results, strict=True):
        assert code == 2, (args, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"Error: {what} '"), err
        assert "not a regular file" in lines[0] or "is a folder" in lines[0]
    assert _text(project) == "Interviewer: Hi Jane."


def test_large_names_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("isp_nlp.interchange.pseudonyms.MAX_NAMES_BYTES", 10)
    path = tmp_path / "names.csv"
    path.write_text("name\nJane Doe\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="beyond the limit"):
        read_names(path)


def test_errors_name_lines_never_names(tmp_path: Path) -> None:
    path = tmp_path / "names.csv"
    for text in ["Jane Doe,P01\n", "name\nZoë\nZOE\n", "name\nJane\n'\n"]:
        path.write_text(text, encoding="utf-8")
        with pytest.raises(InputFileError) as err:
            read_names(path)
        message = str(err.value)
        assert "line" in message and "\n" not in message
        assert not re.search("jane|zo", message, re.IGNORECASE), message


def test_cli_warns_of_names_never_found_by_line(tmp_path: Path) -> None:
    project = _project(tmp_path, "Interviewer: Hi Jane.\n")
    names = tmp_path / "names.csv"
    names.write_text("name\nJane\nNobody Here\nAlso Absent\n", encoding="utf-8")
    args = ["--project", str(project), "pseudonymise", "--names", str(names),
            "--key", str(tmp_path / "k.csv")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert ("Warning: 2 names in names.csv (lines 3, 4) were not found in any transcript"
            in result.output)
    assert "Nobody" not in result.output and "Absent" not in result.output
    again = CliRunner().invoke(cli, [*args, "--format", "json"])  # found before: no warning
    assert json.loads(again.output)["unfound_names"] == {"count": 2, "lines": [3, 4]}


def _export(project: Path, out: Path, *extra: str):
    return CliRunner().invoke(cli, ["--project", str(project), "export", "--out", str(out),
                                    "--pseudonymised-only", *extra])


def test_cli_export_refuses_what_still_holds_a_name(tmp_path: Path) -> None:
    project = _project(tmp_path, "Interviewer: Did Strauss and O'Brien come?\n")
    names = tmp_path / "names.csv"
    names.write_text("name\nStrauß\nO'Brien\n", encoding="utf-8")
    key = tmp_path / "keys" / "key.csv"
    runner = CliRunner()
    assert runner.invoke(cli, ["--project", str(project), "pseudonymise", "--names",
                               str(names), "--key", str(key)]).exit_code == 0
    out = tmp_path / "out.qdpx"
    ok = _export(project, out, "--key", str(key))
    assert ok.exit_code == 0, ok.output
    assert zipfile.is_zipfile(out)
    out.unlink()
    no_key = _export(project, out)
    assert no_key.exit_code == 2 and "needs --key" in no_key.output
    # a variant the earlier code left in the text (recorded as pseudonymised) is found
    with open_project(project) as store:
        store.conn.execute("UPDATE transcripts SET text = ? WHERE document = 't'",
                           ("Interviewer: Did STRAUSS and [Person 2] come?",))
        store.conn.commit()
        store.set_setting(TEXTS_SETTING, json.dumps(
            {"t": text_key("Interviewer: Did STRAUSS and [Person 2] come?")}))
    left = _export(project, out, "--key", str(key))
    assert left.exit_code == 2 and not out.exists()
    assert left.output.count("\n") == 1 and "Traceback" not in left.output
    assert left.output.startswith("Error: --pseudonymised-only: the text of document 1 ('t') "
                                  "still holds the name on line 2 of the key key.csv")
    assert "strau" not in left.output.casefold()
    # pseudonymising again fixes it; a note added afterwards is found too
    assert runner.invoke(cli, ["--project", str(project), "pseudonymise",
                               "--key", str(key)]).exit_code == 0
    with open_project(project) as store:
        store.add_notes([Note("Call back", "ring O’BRIEN on Monday", guid="n1")])
    note = _export(project, out, "--key", str(key))
    assert note.exit_code == 2 and not out.exists()
    assert "a note still holds the name on line 3 of the key" in note.output
    assert "brien" not in note.output.casefold()


def test_export_needs_the_key_of_the_last_run(tmp_path: Path) -> None:
    project = _project(tmp_path, "Interviewer: Hi Jane.\n")
    names = tmp_path / "names.csv"
    names.write_text("name\nJane\n", encoding="utf-8")
    key = tmp_path / "k.csv"
    with open_project(project) as store:
        pseudonymise_project(store, project, names, key)
    other = tmp_path / "other.csv"
    other.write_text("name,pseudonym,kind,count\nSomeone,P09,,0\n", encoding="utf-8")
    out = tmp_path / "o.qdpx"
    wrong = _export(project, out, "--key", str(other))
    assert wrong.exit_code == 2 and "is not the one the last" in wrong.output
    inside = project / "k.csv"
    inside.write_bytes(key.read_bytes())
    assert "inside the project folder" in _export(project, out, "--key", str(inside)).output
    conn = sqlite3.connect(project / "project.sqlite")
    conn.execute("DELETE FROM meta WHERE key = 'setting:pseudonymised_key_sha256'")
    conn.commit()
    conn.close()
    old = _export(project, out, "--key", str(key))
    assert old.exit_code == 2 and "does not record which key" in old.output
    assert not out.exists()
