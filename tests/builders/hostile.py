"""Hostile interchange files for tests/interchange/test_hostile_interchange.py, built at test time.

Each :class:`Case` writes its hostile file(s) into the case's folder (sparse files by
``truncate``, fake zip end records by :mod:`struct`, XML by string multiplication) and
returns the command words that follow ``isp-nlp --project PROJECT``. REFUSED cases must
end in exit status 2 and one line; ACCEPTED cases must import (exit 0) and print safely.
"""

from __future__ import annotations

import csv
import io
import os
import sqlite3
import stat
import struct
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from isp_nlp.ingest.controls import CONTROLS as CONTROLS_RE
from isp_nlp.interchange.xlsx import xlsx_bytes
from tests.builders.refi_xml import C_TOP, project_xml, selection, text_source

DOC = "isp01_child_welfare_coach"


def build_project(root: Path) -> Path:
    """``root/project``, the hostile-file cases' small project: the demo codebook, one
    transcript (:data:`DOC`) and its two coders' seed codes; RuntimeError when a step
    fails."""
    from click.testing import CliRunner

    from isp_nlp.cli import cli
    from tests.builders.paths import CORPUS

    project = root / "project"
    seeds = root / "seeds.csv"
    lines = (CORPUS / "seed_codes.csv").read_text("utf-8").splitlines(keepends=True)
    seeds.write_text(lines[0] + "".join(x for x in lines[1:] if x.startswith(DOC)), "utf-8")
    for words in (["init", str(project), "--embedder", "hashing-256"],
                  ["--project", str(project), "codebook", "load", str(CORPUS / "codebook.yaml")],
                  ["--project", str(project), "ingest", "--skip-speakers", "Interviewer",
                   str(CORPUS / "transcripts" / f"{DOC}.txt")],
                  ["--project", str(project), "import-codes", str(seeds)]):
        result = CliRunner().invoke(cli, words)
        if result.exit_code != 0:
            raise RuntimeError(f"building the project failed: {result.output}")
    return project
#: The text of a turn of DOC, so that excerpts are found in the project.
TURN = ("Sure. So right now I'm an implementation coach at the state's child welfare training "
        "institute, which is, uh, a partnership between the university and the state agency.")
TEXT = b"P1: I trust them.\n"
SECRET = "SECRET-7f3a-do-not-import"
#: A name that, printed raw, would clear the screen, paint it red and fake a second line.
EVIL = "\x1b[2J\x1b[31mFAKE\nError: all good"
#: The same inside XML, which cannot hold ESC: C1 CSI (U+009B), a newline by character
#: reference, and the right-to-left override.
EVIL_XML = "\x9b2J\x9b31mFAKE&#10;Error: all good\u202e"
DEDOOSE_HEADER = ["Media Title", "Excerpt Range", "Excerpt Creator", "Excerpt Copy",
                  "Codes Applied Combined"]
ATLAS_HEADER = ["Number", "Document", "Text Content", "Codes", "Reference", "Created by"]
GB = 1024**3
MB = 1024**2


@dataclass(frozen=True)
class Ctx:
    """Where a case runs: ``root`` (the child's working folder) and the project copy in it."""

    root: Path
    project: Path

    def path(self, name: str) -> Path:
        return self.root / name


@dataclass(frozen=True)
class Case:
    """One hostile input: what it tests, how to build it, and what else to check."""

    id: str
    what: str
    build: Callable[[Ctx], Sequence[str]]
    #: Declared output path (relative to the case folder): its content may change and
    #: anything inside it may appear; its file type (device, FIFO, folder) may not.
    out: str | None = None
    #: Extra check after the run (e.g. an outside file's text is not in the database).
    check: Callable[[Ctx], None] | None = None
    #: The file must be refused before it is read: peak memory above the parent's stays
    #: under this many MB (the file itself is larger).
    unread_mb: int | None = None


# --------------------------------------------------------------------------- file helpers


def sparse(path: Path, size: int, head: bytes = b"") -> Path:
    """A sparse file of ``size`` bytes (zeros after ``head``): no disk, no time."""
    with path.open("wb") as fh:
        fh.write(head)
        fh.truncate(size)
    return path


def fifo(path: Path) -> Path:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    os.mkfifo(path)
    return path


def chardev(path: Path) -> Path:
    """A character device in the case folder (the null device's numbers), made as root;
    the real /dev/null is never touched."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, AttributeError, OSError) as exc:
        pytest.skip(f"cannot create a character device here ({exc})")
    return path


def link(path: Path, target: str | Path) -> Path:
    if not Path(target).exists():
        pytest.skip(f"{target} does not exist on this platform")
    path.symlink_to(target)
    return path


def zip_member(name: str, mode: int) -> zipfile.ZipInfo:
    """A member whose Unix mode (external attributes) says it is a ``mode`` file."""
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = mode << 16
    return info


def write_zip(path: Path, members: dict[str, bytes | str],
              infos: Sequence[tuple[zipfile.ZipInfo, bytes]] = ()) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
        for info, data in infos:
            z.writestr(info, data)
    return path


QDE = project_xml(text_source(1, "internal://a.txt", [selection(1, 4, 11, C_TOP)]))


def qdpx(path: Path, qde: str | bytes = QDE, members: dict[str, bytes | str] | None = None,
         infos: Sequence[tuple[zipfile.ZipInfo, bytes]] = ()) -> Path:
    """A .qdpx holding ``qde`` as project.qde and ``members`` (default: sources/a.txt)."""
    extra = {"sources/a.txt": TEXT} if members is None else members
    return write_zip(path, {"project.qde": qde, **extra}, infos)


def patch_header(path: Path, member: str, local_at: int, central_at: int, fmt: str,
                 value: int) -> Path:
    """Rewrite one field of ``member``'s local (at ``local_at``) and central directory (at
    ``central_at``) headers."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    for sig, field_at, name_at in ((b"PK\x03\x04", local_at, 30),
                                   (b"PK\x01\x02", central_at, 46)):
        pos = data.find(sig)
        while pos >= 0:
            if data[pos + name_at:pos + name_at + len(name)] == name:
                struct.pack_into(fmt, data, pos + field_at, value)
            pos = data.find(sig, pos + 4)
    path.write_bytes(bytes(data))
    return path


def declare_size(path: Path, member: str, size: int) -> Path:
    """Rewrite the uncompressed size ``member`` declares in its local and central headers."""
    return patch_header(path, member, 22, 24, "<I", size)


def _split_eocd(data: bytes) -> tuple[bytes, int, int]:
    """A zip without its (comment-less) end record, with its directory's offset and size."""
    assert data[-22:-18] == b"PK\x05\x06"
    _, _, _, _, size, offset, _ = struct.unpack("<4H2LH", data[-18:])
    return data[:-22], offset, size


def claim_entries(path: Path, entries: int, directory_bytes: int, *, zip64: bool) -> Path:
    """Rewrite the end record(s) of the zip at ``path`` to claim ``entries`` entries in a
    directory of ``directory_bytes`` (ZIP64 records when ``zip64``)."""
    body, offset, _ = _split_eocd(path.read_bytes())
    if zip64:
        where = len(body)
        record = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, entries, entries,
                             directory_bytes, offset)
        locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, where, 1)
        end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF,
                          0xFFFFFFFF, 0)
        path.write_bytes(body + record + locator + end)
    else:
        end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, min(entries, 0xFFFF),
                          min(entries, 0xFFFF), min(directory_bytes, 0xFFFFFFFF), offset, 0)
        path.write_bytes(body + end)
    return path


def understate_entries(path: Path, entries: int) -> Path:
    """Rewrite the end record to claim ``entries`` entries, keeping the directory's size."""
    body, offset, size = _split_eocd(path.read_bytes())
    path.write_bytes(body + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, entries, entries,
                                        size, offset, 0))
    return path


def csv_bytes(header: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows([list(header), *map(list, rows)])
    return buf.getvalue().encode("utf-8-sig")


def dedoose(path: Path, rows: Sequence[Sequence[str]],
            header: Sequence[str] = tuple(DEDOOSE_HEADER)) -> Path:
    path.write_bytes(csv_bytes(header, rows))
    return path


def atlas(path: Path, rows: Sequence[Sequence[str]],
          header: Sequence[str] = tuple(ATLAS_HEADER)) -> Path:
    path.write_bytes(csv_bytes(header, rows))
    return path


GOOD_EXCERPT = [DOC, "Page 1: 120-300", "ana", TURN, "Didactic training"]


def xlsx_with_sheet(path: Path, sheet_xml: bytes | None = None,
                    extra: dict[str, bytes] | None = None) -> Path:
    """A workbook made by our own writer (one good Dedoose row), with its first sheet's
    XML replaced by ``sheet_xml`` and ``extra`` members added."""
    data = xlsx_bytes(DEDOOSE_HEADER, [GOOD_EXCERPT])
    with zipfile.ZipFile(io.BytesIO(data)) as src, \
            zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml" and sheet_xml is not None:
                body = sheet_xml
            dst.writestr(info.filename, body)
        for name, body in (extra or {}).items():
            dst.writestr(name, body)
    return path


SHEET_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def sheet(rows_xml: str, dimension: str = "A1:E2", prolog: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<worksheet xmlns="{SHEET_NS}">'
            f'<dimension ref="{dimension}"/><sheetData>{rows_xml}</sheetData></worksheet>'
            ).encode()


def inline(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def laughs(root: str, depth: int = 9) -> str:
    """A "billion laughs" DTD: 10**depth copies of "lol" once expanded."""
    ents = ['<!ENTITY l0 "lol">'] + [
        f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">' for i in range(1, depth + 1)]
    return (f'<?xml version="1.0"?><!DOCTYPE {root} [{"".join(ents)}]>')


def db_text(project: Path) -> str:
    """Every value in the project database, as one string (to look for leaked text)."""
    conn = sqlite3.connect(project / "project.sqlite")
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def secret_file(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"P1: {SECRET} my private notes\n", encoding="utf-8")
    return path


def no_secret(ctx: Ctx) -> None:
    assert SECRET not in db_text(ctx.project), "text from outside the archive was imported"


def no_environment(ctx: Ctx) -> None:
    text = db_text(ctx.project)
    assert "PATH=" not in text and "HOME=" not in text, "the process environment was imported"


def is_kind(rel: str, test: Callable[[int], bool]) -> Callable[[Ctx], None]:
    def check(ctx: Ctx) -> None:
        assert test(os.lstat(ctx.path(rel)).st_mode), f"{rel} changed its kind"
    return check


# --------------------------------------------------------------------------- .qdpx builders


def _import(path: Path) -> list[str]:
    return ["import", str(path)]


def qdpx_absolute(ctx: Ctx) -> list[str]:
    secret = secret_file(ctx.path("home/notes.txt"))
    qde = project_xml(text_source(1, f"absolute://{secret}", [selection(1, 4, 11, C_TOP)]))
    return _import(qdpx(ctx.path("p.qdpx"), qde, {}))


def qdpx_relative_escape(ctx: Ctx) -> list[str]:
    secret_file(ctx.path("notes.txt"))
    (ctx.root / "in" / "deep").mkdir(parents=True)
    qde = project_xml(text_source(1, "relative://../../notes.txt", [selection(1, 4, 11, C_TOP)]))
    return _import(qdpx(ctx.path("in/deep/p.qdpx"), qde, {}))


def qdpx_base_path_outside(ctx: Ctx) -> list[str]:
    secret_file(ctx.path("elsewhere/notes.txt"))
    qde = project_xml(text_source(1, "relative://notes.txt", [selection(1, 4, 11, C_TOP)]),
                      base_path=str(ctx.path("elsewhere")))
    return _import(qdpx(ctx.path("p.qdpx"), qde, {}))


def qdpx_bare_path_on_disk(ctx: Ctx) -> list[str]:
    secret_file(ctx.path("notes.txt"))
    qde = project_xml(text_source(1, "notes.txt", [selection(1, 4, 11, C_TOP)]))
    return _import(qdpx(ctx.path("p.qdpx"), qde, {}))


def qdpx_special_member(mode: int) -> Callable[[Ctx], list[str]]:
    def build(ctx: Ctx) -> list[str]:
        return _import(qdpx(ctx.path("p.qdpx"), members={},
                            infos=[(zip_member("sources/a.txt", mode), TEXT)]))
    return build


def qdpx_eocd_claims(entries: int, size: int, *, zip64: bool) -> Callable[[Ctx], list[str]]:
    def build(ctx: Ctx) -> list[str]:
        return _import(claim_entries(qdpx(ctx.path("p.qdpx")), entries, size, zip64=zip64))
    return build


def qdpx_understated_directory(ctx: Ctx) -> list[str]:
    path = ctx.path("p.qdpx")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("project.qde", QDE)
        z.writestr("sources/a.txt", TEXT)
        for i in range(20_000):
            z.writestr(f"m/{i}", b"")
    return _import(understate_entries(path, 2))


def qdpx_big_transcript(ctx: Ctx) -> list[str]:
    line = b"P1: " + b"and then we talked about the plan again " * 40 + b"\n"
    body = line * (60 * MB // len(line) + 1)  # 60 MB of text, a few hundred KB zipped
    return _import(qdpx(ctx.path("p.qdpx"), members={"sources/a.txt": body}))


def qdpx_declares_more(ctx: Ctx) -> list[str]:
    return _import(declare_size(qdpx(ctx.path("p.qdpx")), "sources/a.txt", 60 * MB))


def qdpx_total_over(ctx: Ctx) -> list[str]:
    path = qdpx(ctx.path("p.qdpx"), members={f"sources/{i}.txt": TEXT for i in range(5)})
    for i in range(5):
        declare_size(path, f"sources/{i}.txt", 500 * MB)
    return _import(path)


def qdpx_qde_declares_huge(ctx: Ctx) -> list[str]:
    return _import(declare_size(qdpx(ctx.path("p.qdpx")), "project.qde", 600 * MB))


def qdpx_evil_member_name(ctx: Ctx) -> list[str]:
    return _import(qdpx(ctx.path("p.qdpx"), members={"sources/a.txt": TEXT, f"../{EVIL}": b"x"}))


def qdpx_evil_symlink_name(ctx: Ctx) -> list[str]:
    info = zip_member(f"sources/\u202etxt.exe{EVIL}.txt", stat.S_IFLNK | 0o777)
    return _import(qdpx(ctx.path("p.qdpx"), infos=[(info, b"/etc/passwd")]))


def qdpx_qde_is_folder(ctx: Ctx) -> list[str]:
    return _import(write_zip(ctx.path("p.qdpx"), {"project.qde/": b"", "sources/a.txt": TEXT}))


def qdpx_qde_not_xml(ctx: Ctx) -> list[str]:
    return _import(qdpx(ctx.path("p.qdpx"), b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 16))


def qdpx_two_qdes(ctx: Ctx) -> list[str]:
    return _import(write_zip(ctx.path("p.qdpx"), {"a/project.qde": QDE, "b/project.qde": QDE,
                                                  "a/sources/a.txt": TEXT}))


def qdpx_laughs_utf16(ctx: Ctx) -> list[str]:
    xml = laughs("Project") + '<Project xmlns="urn:QDA-XML:project:1.0" name="&l9;"/>'
    return _import(qdpx(ctx.path("p.qdpx"), "\ufeff".encode("utf-16-le") + xml.replace(
        '<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>').encode("utf-16-le")))


def qdpx_external_entity(ctx: Ctx) -> list[str]:
    xml = ('<?xml version="1.0"?><!DOCTYPE Project [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           '<Project xmlns="urn:QDA-XML:project:1.0" name="&x;"/>')
    return _import(qdpx(ctx.path("p.qdpx"), xml))


def qdpx_nested(depth: int) -> Callable[[Ctx], list[str]]:
    def build(ctx: Ctx) -> list[str]:
        deep = "<Extension>" * depth + "</Extension>" * depth
        qde = project_xml(text_source(1, "internal://a.txt", [selection(1, 4, 11, C_TOP)])
                          + f"<TextSource guid=\"{'e' * 8}-0000-0000-0000-000000000099\" "
                          f'name="Deep" plainTextPath="internal://a.txt">{deep}</TextSource>')
        return _import(qdpx(ctx.path("p.qdpx"), qde))
    return build


def qdpx_many_elements(ctx: Ctx) -> list[str]:
    users = '<User guid="u" name="n"/>' * 2_000_000
    qde = project_xml(text_source(1, "internal://a.txt", [selection(1, 4, 11, C_TOP)]))
    qde = qde.replace("<Users>", "<Users>" + users, 1)
    return _import(qdpx(ctx.path("p.qdpx"), qde))


def qdpx_positions(start: str, end: str) -> Callable[[Ctx], list[str]]:
    def build(ctx: Ctx) -> list[str]:
        sel = selection(1, 0, 0, C_TOP).replace('startPosition="0"', f'startPosition="{start}"'
                                                ).replace('endPosition="0"',
                                                          f'endPosition="{end}"')
        qde = project_xml(text_source(1, "internal://a.txt", [sel]))
        return _import(qdpx(ctx.path("p.qdpx"), qde))
    return build


def deep_codes(depth: int) -> str:
    return ("<CodeBook><Codes>" + '<Code name="c" isCodable="true">' * depth
            + "</Code>" * depth + "</Codes></CodeBook>")


def qdpx_deep_codes(ctx: Ctx) -> list[str]:
    qde = project_xml(text_source(1, "internal://a.txt", []), codebook=deep_codes(20_000))
    return _import(qdpx(ctx.path("p.qdpx"), qde))


def qdpx_duplicate_code_guids(ctx: Ctx) -> list[str]:
    book = (f'<CodeBook><Codes><Code guid="{C_TOP}" name="Trust" isCodable="true"/>'
            f'<Code guid="{C_TOP}" name="Distrust" isCodable="true"/></Codes></CodeBook>')
    qde = project_xml(text_source(1, "internal://a.txt", [selection(1, 4, 11, C_TOP)]),
                      codebook=book)
    return _import(qdpx(ctx.path("p.qdpx"), qde))


def qdpx_patched(member: str, local_at: int, central_at: int, fmt: str, value: int
                 ) -> Callable[[Ctx], list[str]]:
    def build(ctx: Ctx) -> list[str]:
        return _import(patch_header(qdpx(ctx.path("p.qdpx")), member, local_at, central_at,
                                    fmt, value))
    return build


def qdpx_qde_whitespace(ctx: Ctx) -> list[str]:
    """project.qde: an unclosed <Project> then 200 MB of spaces, streamed into the zip."""
    path = ctx.path("p.qdpx")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("project.qde", "w", force_zip64=True) as fh:
            fh.write(b'<Project xmlns="urn:QDA-XML:project:1.0" name="')
            chunk = b" " * MB
            for _ in range(200):
                fh.write(chunk)
        z.writestr("sources/a.txt", TEXT)
    return _import(path)


def qdpx_source_bytes(raw: bytes) -> Callable[[Ctx], list[str]]:
    def build(ctx: Ctx) -> list[str]:
        return _import(qdpx(ctx.path("p.qdpx"), members={"sources/a.txt": raw}))
    return build


def qdpx_init_hostile(ctx: Ctx) -> list[str]:
    path = qdpx(ctx.path("p.qdpx"), members={"sources/a.txt": TEXT, "../../evil.txt": b"x"})
    return ["import", str(path), "--init", str(ctx.path("newproject")), "--embedder",
            "hashing-256"]


def qdpx_sources_dir(path_in_qde: Callable[[Path], str], make: Callable[[Ctx, Path], object]
                     ) -> Callable[[Ctx], list[str]]:
    """A .qdpx naming a source outside it, imported with ``--sources-dir DIR``."""
    def build(ctx: Ctx) -> list[str]:
        folder = ctx.path("media")
        folder.mkdir()
        make(ctx, folder)
        qde = project_xml(text_source(1, path_in_qde(folder), [selection(1, 4, 11, C_TOP)]))
        return [*_import(qdpx(ctx.path("p.qdpx"), qde, {})), "--sources-dir", str(folder)]
    return build


def _secret_beside(ctx: Ctx, folder: Path) -> None:
    secret_file(ctx.path("notes.txt"))


def _link_out(ctx: Ctx, folder: Path) -> None:
    (folder / "a.txt").symlink_to(secret_file(ctx.path("private/notes.txt")))


# --------------------------------------------------------------------------- bare .qde


def _qde_beside(ctx: Ctx, make_source: Callable[[Path], object]) -> list[str]:
    folder = ctx.path("export")
    (folder / "sources").mkdir(parents=True)
    make_source(folder / "sources" / "a.txt")
    path = folder / "p.qde"
    path.write_text(QDE, encoding="utf-8")
    return _import(path)


def qde_source_environ(ctx: Ctx) -> list[str]:
    return _qde_beside(ctx, lambda p: link(p, "/proc/self/environ"))


def qde_source_outside(ctx: Ctx) -> list[str]:
    secret = secret_file(ctx.path("private/notes.txt"))
    return _qde_beside(ctx, lambda p: p.symlink_to(secret))


def qde_source_dev_zero(ctx: Ctx) -> list[str]:
    return _qde_beside(ctx, lambda p: link(p, "/dev/zero"))


def qde_source_fifo(ctx: Ctx) -> list[str]:
    return _qde_beside(ctx, fifo)


def qde_source_folder(ctx: Ctx) -> list[str]:
    return _qde_beside(ctx, lambda p: p.mkdir())


def qde_file(make: Callable[[Path], object], name: str = "p.qde") -> Callable[[Ctx], list[str]]:
    def build(ctx: Ctx) -> list[str]:
        make(ctx.path(name))
        return _import(ctx.path(name))
    return build


# --------------------------------------------------------------------------- .qdc


def qdc_text(text: str | bytes, command: str = "import") -> Callable[[Ctx], list[str]]:
    def build(ctx: Ctx) -> list[str]:
        path = ctx.path("c.qdc")
        path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
        return _import(path) if command == "import" else ["codebook", "load", str(path)]
    return build


def qdc_write(ctx: Ctx, text: str) -> Path:
    path = ctx.path("c.qdc")
    path.write_text(text, encoding="utf-8")
    return path


def qdc_sparse(command: str) -> Callable[[Ctx], list[str]]:
    def build(ctx: Ctx) -> list[str]:
        path = sparse(ctx.path("c.qdc"), int(1.1 * GB), b'<?xml version="1.0"?><CodeBook ')
        return _import(path) if command == "import" else ["codebook", "load", str(path)]
    return build


# --------------------------------------------------------------------------- sheets


def _excerpts(path: Path, *more: str) -> list[str]:
    return ["import-excerpts", str(path), *more]


def sheet_rows(rows: Sequence[Sequence[str]], header: Sequence[str] = tuple(DEDOOSE_HEADER),
               *more: str) -> Callable[[Ctx], list[str]]:
    def build(ctx: Ctx) -> list[str]:
        return _excerpts(dedoose(ctx.path("x.csv"), rows, header), *more)
    return build


def sheet_file(make: Callable[[Path], object], name: str = "x.csv", *more: str
               ) -> Callable[[Ctx], list[str]]:
    def build(ctx: Ctx) -> list[str]:
        make(ctx.path(name))
        return _excerpts(ctx.path(name), *more)
    return build


def xlsx_case(sheet_xml: bytes | None = None, extra: dict[str, bytes] | None = None,
              post: Callable[[Path], object] | None = None) -> Callable[[Ctx], list[str]]:
    def build(ctx: Ctx) -> list[str]:
        path = xlsx_with_sheet(ctx.path("x.xlsx"), sheet_xml, extra)
        if post is not None:
            post(path)
        return _excerpts(path)
    return build


def _junk(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 64 + b"\x1b]0;pwned\x07\n" * 4)


def atlas_rows(rows: Sequence[Sequence[str]], header: Sequence[str] = tuple(ATLAS_HEADER)
               ) -> Callable[[Ctx], list[str]]:
    def build(ctx: Ctx) -> list[str]:
        return _excerpts(atlas(ctx.path("q.csv"), rows, header), "--format", "atlasti",
                         "--coder", "ana")
    return build


def atlas_many_pieces(ctx: Ctx) -> list[str]:
    cell = ", ".join(f"Theme {i}: sub {i}" for i in range(80))
    rows = [[str(i), "no-such-document", TURN, cell, "¶ 3", "ana"] for i in range(1000)]
    return _excerpts(atlas(ctx.path("q.csv"), rows), "--format", "atlasti")


# --------------------------------------------------------------------------- pseudonymise


def _pseudo(names: Path | None, key: Path) -> list[str]:
    return ["pseudonymise", *(["--names", str(names)] if names else []), "--key", str(key)]


def names_file(make: Callable[[Path], object]) -> Callable[[Ctx], list[str]]:
    def build(ctx: Ctx) -> list[str]:
        make(ctx.path("names.csv"))
        (ctx.root / "keys").mkdir()
        return _pseudo(ctx.path("names.csv"), ctx.path("keys/key.csv"))
    return build


def key_file(make: Callable[[Path], object]) -> Callable[[Ctx], list[str]]:
    def build(ctx: Ctx) -> list[str]:
        ctx.path("names.csv").write_text("name,kind\nP01,participant\n", encoding="utf-8")
        make(ctx.path("key.csv"))
        return _pseudo(ctx.path("names.csv"), ctx.path("key.csv"))
    return build


def key_through_link(ctx: Ctx) -> list[str]:
    ctx.path("names.csv").write_text("name,kind\nP01,participant\n", encoding="utf-8")
    ctx.path("keys").symlink_to(ctx.project, target_is_directory=True)
    return _pseudo(ctx.path("names.csv"), ctx.path("keys/key.csv"))


def _names_with_escape(ctx: Ctx) -> list[str]:
    ctx.path("names.csv").write_bytes(csv_bytes(["name", "kind"], [[f"Zed{EVIL}", "participant"]]))
    (ctx.root / "keys").mkdir()
    return _pseudo(ctx.path("names.csv"), ctx.path("keys/key.csv"))


# --------------------------------------------------------------------------- outputs


OUTPUT_COMMANDS: dict[str, tuple[str, Callable[[str], list[str]]]] = {
    "report": (".html", lambda p: ["report", "--out", p]),
    "export": (".qdpx", lambda p: ["export", "--out", p]),
    "export-qdc": (".qdc", lambda p: ["export", "--format", "qdc", "--out", p]),
    "export-sheet": (".csv", lambda p: ["export-sheet", "--out", p]),
    "export-sheet-xlsx": (".xlsx", lambda p: ["export-sheet", "--out", p]),
    "export-codes": (".csv", lambda p: ["export-codes", p]),
    "codebook-export": (".qdc", lambda p: ["codebook", "export", "--out", p]),
}


def output_to(command: str, make: Callable[[Path], object]) -> Callable[[Ctx], list[str]]:
    suffix, words = OUTPUT_COMMANDS[command]

    def build(ctx: Ctx) -> list[str]:
        target = ctx.path("out" + suffix)
        make(target)
        return words(str(target))
    return build


def output_missing_parent(command: str) -> Callable[[Ctx], list[str]]:
    suffix, words = OUTPUT_COMMANDS[command]
    return lambda ctx: words(str(ctx.path("missing/out" + suffix)))


def _folder(path: Path) -> None:
    path.mkdir()
    (path / "keep.txt").write_text("keep", encoding="utf-8")


def backup_inside(ctx: Ctx) -> list[str]:
    return ["backup", str(ctx.project / "backups" / "today")]


# --------------------------------------------------------------------------- more builders


def names_rows(text: str) -> Callable[[Path], object]:
    return lambda p: p.write_text(text, encoding="utf-8")


def many_names(path: Path) -> None:
    path.write_text("name\n" + "".join(f"Nm{i:06d} Xq\n" for i in range(500_000)), "utf-8")


def xlsx_rels_outside(path: Path) -> None:
    """Point the workbook's sheet relationship outside the package."""
    with zipfile.ZipFile(path) as src:
        parts = {i.filename: src.read(i) for i in src.infolist()}
    rels = "xl/_rels/workbook.xml.rels"
    parts[rels] = parts[rels].replace(b"/xl/worksheets/sheet1.xml", b"../../../../etc/passwd")
    write_zip(path, dict(parts))


def xlsx_many_strings(path: Path) -> None:
    """2,000,000 shared strings; the sheet uses five of them and names no known document."""
    header = "".join(f"<si><t>{h}</t></si>" for h in DEDOOSE_HEADER)
    strings = (f'<sst xmlns="{SHEET_NS}" count="2000005" uniqueCount="2000005">{header}'
               + "<si><t>x</t></si>" * 2_000_000 + "</sst>").encode()
    row1 = "".join(f'<c r="{c}1" t="s"><v>{i}</v></c>' for i, c in enumerate("ABCDE"))
    row2 = "".join(inline(f"{c}2", v) for c, v in zip(
        "ABCDE", ["no-such-document", "1-5", "ana", TURN, "Didactic training"], strict=True))
    xlsx_with_sheet(path, sheet(f'<row r="1">{row1}</row><row r="2">{row2}</row>'),
                    {"xl/sharedStrings.xml": strings})


def backup_through_link(ctx: Ctx) -> list[str]:
    ctx.path("elsewhere").symlink_to(ctx.project, target_is_directory=True)
    return ["backup", str(ctx.path("elsewhere/today"))]


def _file_as_parent(command: str) -> Callable[[Ctx], list[str]]:
    suffix, words = OUTPUT_COMMANDS[command]

    def build(ctx: Ctx) -> list[str]:
        ctx.path("plain").write_text("a file, not a folder", encoding="utf-8")
        return words(str(ctx.path("plain/out" + suffix)))
    return build


# --------------------------------------------------------------------------- the table


_LONG = "9" * 5000
_KINDS = {"fifo": fifo, "chardev": chardev, "folder": _folder}
_OUT_KIND = {"fifo": stat.S_ISFIFO, "chardev": stat.S_ISCHR, "folder": stat.S_ISDIR}


def _output_cases() -> list[Case]:
    out: list[Case] = []
    for command, (suffix, _) in OUTPUT_COMMANDS.items():
        for kind, make in _KINDS.items():
            if kind == "folder" and command in ("export-sheet-xlsx", "export-qdc"):
                continue
            out.append(Case(f"out-{command}-{kind}",
                            f"{command} to a {kind} is refused (never written, never blocks)",
                            output_to(command, make), out="out" + suffix,
                            check=is_kind("out" + suffix, _OUT_KIND[kind])))
    for command in ("report", "export", "export-sheet", "codebook-export"):
        out.append(Case(f"out-{command}-missing-parent",
                        f"{command} into a folder that does not exist is refused",
                        output_missing_parent(command)))
    for command in ("report", "export-codes"):
        out.append(Case(f"out-{command}-parent-is-file",
                        f"{command} into a 'folder' that is a file is refused",
                        _file_as_parent(command)))
    out += [
        Case("out-report-link-to-chardev",
             "report to a symlink leading to a character device is refused",
             output_to("report", lambda p: p.symlink_to(chardev(p.parent / "dev"))),
             out="out.html", check=is_kind("dev", stat.S_ISCHR)),
        Case("out-backup-inside-project", "backup into a folder inside the project is refused",
             backup_inside),
        Case("out-backup-link-into-project",
             "backup through a symlink that leads into the project is refused",
             backup_through_link),
        Case("out-backup-chardev", "backup to a character device is refused",
             lambda ctx: ["backup", str(chardev(ctx.path("dev")))], out="dev",
             check=is_kind("dev", stat.S_ISCHR)),
        Case("out-backup-fifo", "backup to a FIFO is refused",
             lambda ctx: ["backup", str(fifo(ctx.path("pipe")))], out="pipe",
             check=is_kind("pipe", stat.S_ISFIFO)),
    ]
    return out


REFUSED: list[Case] = [
    # --- .qdpx: members that are not files
    Case("qdpx-member-fifo", "a source member whose Unix mode is a FIFO",
         qdpx_special_member(stat.S_IFIFO | 0o644)),
    Case("qdpx-member-chardev", "a source member whose Unix mode is a character device",
         qdpx_special_member(stat.S_IFCHR | 0o644)),
    Case("qdpx-member-socket", "a source member whose Unix mode is a socket",
         qdpx_special_member(stat.S_IFSOCK | 0o644)),
    # --- .qdpx: lying zip directories, sizes and headers
    Case("qdpx-eocd-65535-in-4gb", "end record claiming 65,535 entries in a 4 GB directory",
         qdpx_eocd_claims(0xFFFF, 0xFFFFFFFF, zip64=False)),
    Case("qdpx-zip64-4.5m-entries", "ZIP64 end record claiming 4.5 million entries",
         qdpx_eocd_claims(4_500_000, 4_500_000 * 46, zip64=True)),
    Case("qdpx-zip64-2e62", "ZIP64 end record claiming 2**62 entries and bytes",
         qdpx_eocd_claims(2**62, 2**62, zip64=True)),
    Case("qdpx-directory-understated", "end record says 2 entries, directory holds 20,002",
         qdpx_understated_directory),
    Case("qdpx-60mb-transcript", "a source member of 60 MB (transcripts stop at 50 MB)",
         qdpx_big_transcript),
    Case("qdpx-declares-60mb-holds-bytes", "a member declaring 60 MB but holding 18 bytes",
         qdpx_declares_more),
    Case("qdpx-total-over-limit", "five members declaring 500 MB each (2.5 GB in all)",
         qdpx_total_over),
    Case("qdpx-qde-declares-600mb", "project.qde declaring 600 MB uncompressed",
         qdpx_qde_declares_huge),
    Case("qdpx-qde-200mb-unclosed", "project.qde: an unclosed tag, then 200 MB of spaces",
         qdpx_qde_whitespace),
    Case("qdpx-encrypted-member", "a source member flagged as encrypted",
         qdpx_patched("sources/a.txt", 6, 8, "<H", 1)),
    Case("qdpx-unknown-compression", "a source member compressed with method 99 (AES)",
         qdpx_patched("sources/a.txt", 8, 10, "<H", 99)),
    Case("qdpx-bad-crc", "a source member whose CRC-32 does not match",
         qdpx_patched("sources/a.txt", 14, 16, "<I", 0xDEADBEEF)),
    Case("qdpx-sparse-1.1gb", "a 1.1 GB (sparse) .qdpx of zeros, not a zip",
         qde_file(lambda p: sparse(p, int(1.1 * GB)), "p.qdpx"), unread_mb=300),
    Case("qdpx-fifo", "the .qdpx itself is a FIFO", qde_file(fifo, "p.qdpx")),
    Case("qdpx-dev-zero", "the .qdpx is a link to /dev/zero",
         qde_file(lambda p: link(p, "/dev/zero"), "p.qdpx")),
    Case("qdpx-sources-dir-sparse-1.1gb", "--sources-dir holding a 1.1 GB (sparse) source",
         qdpx_sources_dir(lambda d: "relative://a.txt",
                          lambda ctx, d: sparse(d / "a.txt", int(1.1 * GB), b"P1: hi\n")),
         unread_mb=300),
    # --- .qdpx: names that would act on the terminal
    Case("qdpx-member-name-escapes", "a ../ member named with ESC sequences and a newline",
         qdpx_evil_member_name),
    Case("qdpx-symlink-name-bidi", "a symlink member named with RLO, ESC and a newline",
         qdpx_evil_symlink_name),
    # --- .qdpx: project.qde missing, ambiguous or not XML
    Case("qdpx-qde-is-folder", "project.qde is only a folder entry", qdpx_qde_is_folder),
    Case("qdpx-two-qdes", "two nested project.qde files (which one?)", qdpx_two_qdes),
    Case("qdpx-qde-png", "project.qde inside the archive is a PNG", qdpx_qde_not_xml),
    # --- .qdpx: XML attacks
    Case("qdpx-laughs-utf16", "billion laughs hidden in UTF-16 project.qde", qdpx_laughs_utf16),
    Case("qdpx-external-entity", "external entity file:///etc/passwd", qdpx_external_entity),
    Case("qdpx-nested-10000", "XML nested 10,000 deep inside a source", qdpx_nested(10_000)),
    Case("qdpx-2m-elements", "2,000,000 <User> elements", qdpx_many_elements),
    Case("qdpx-code-depth-20000", "codes nested 20,000 deep", qdpx_deep_codes),
    # --- .qdpx: identities and content
    Case("qdpx-duplicate-code-guids", "two codes sharing one GUID (which one is coded?)",
         qdpx_duplicate_code_guids),
    Case("qdpx-source-binary", "a source of binary bytes (no NUL), not a transcript",
         qdpx_source_bytes(bytes(range(1, 256)) * 32)),
    Case("qdpx-init-removed", "import --init of a hostile archive leaves no project behind",
         qdpx_init_hostile),
    # --- bare .qde
    Case("qde-sparse-1.1gb", "a 1.1 GB (sparse) .qde is refused unread",
         qde_file(lambda p: sparse(p, int(1.1 * GB), b"<Project ")), unread_mb=300),
    Case("qde-empty", "an empty .qde", qde_file(lambda p: p.write_bytes(b""))),
    Case("qde-fifo", "the .qde itself is a FIFO", qde_file(fifo)),
    Case("qde-dev-zero", "the .qde is a link to /dev/zero",
         qde_file(lambda p: link(p, "/dev/zero"))),
    Case("qde-environ", "the .qde is a link to /proc/self/environ",
         qde_file(lambda p: link(p, "/proc/self/environ"))),
    Case("qde-folder", "the .qde is a folder", qde_file(lambda p: p.mkdir())),
    # --- .qdc
    Case("qdc-sparse-1.1gb", "a 1.1 GB (sparse) .qdc is refused unread", qdc_sparse("import"),
         unread_mb=300),
    Case("qdc-load-sparse-1.1gb", "codebook load of a 1.1 GB .qdc is refused unread",
         qdc_sparse("load"), unread_mb=300),
    Case("qdc-laughs", "billion laughs in a .qdc",
         qdc_text(laughs("CodeBook") + '<CodeBook><Codes><Code name="&l9;"/></Codes></CodeBook>')),
    Case("qdc-load-external-entity", "codebook load of a .qdc with an external entity",
         qdc_text('<?xml version="1.0"?><!DOCTYPE CodeBook [<!ENTITY x SYSTEM '
                  '"file:///etc/passwd">]><CodeBook><Codes><Code name="&x;"/></Codes></CodeBook>',
                  "load")),
    Case("qdc-check-laughs", "codebook check of a billion-laughs .qdc",
         lambda ctx: ["codebook", "check", str(qdc_write(ctx, laughs("CodeBook") + (
             '<CodeBook><Codes><Code name="&l9;"/></Codes></CodeBook>')))]),
    Case("qdc-depth-20000", "codes nested 20,000 deep in a .qdc", qdc_text(deep_codes(20_000))),
    Case("qdc-200k-same-name", "200,000 codes with one name (id suffixes go quadratic)",
         qdc_text("<CodeBook><Codes>" + '<Code name="x"/>' * 200_000 + "</Codes></CodeBook>")),
    Case("qdc-wrong-root", "a .qdc whose root is <html>",
         qdc_text("<html><body><Codes><Code name='x'/></Codes></body></html>")),
    Case("qdc-binary", "a .qdc of binary junk", qdc_text(bytes(range(256)) * 64)),
    Case("qdc-load-qdpx-zip64", "codebook load of a .qdpx claiming 4.5 million entries",
         lambda ctx: ["codebook", "load", str(claim_entries(
             qdpx(ctx.path("p.qdpx")), 4_500_000, 4_500_000 * 46, zip64=True))]),
    Case("qdc-check-fifo", "codebook check of a FIFO named .qdc",
         lambda ctx: ["codebook", "check", str(fifo(ctx.path("c.qdc")))]),
    Case("qdc-load-fifo", "codebook load of a FIFO named .qdc",
         lambda ctx: ["codebook", "load", str(fifo(ctx.path("c.qdc")))]),
    # --- Dedoose excerpts
    Case("dedoose-range-5000-digits", "an Excerpt Range of 5,000-digit numbers",
         sheet_rows([[DOC, f"Page 1: {_LONG}-{_LONG}", "ana", TURN, "Didactic training"]])),
    Case("dedoose-missing-columns", "no Excerpt Copy and no code columns",
         sheet_rows([[DOC, "x"]], ["Media Title", "Something"], "--format", "dedoose")),
    Case("dedoose-binary-junk", "binary junk with escape sequences as a .csv",
         sheet_file(_junk)),
    Case("dedoose-fifo", "the sheet is a FIFO", sheet_file(fifo)),
    Case("dedoose-dev-zero", "the sheet is a link to /dev/zero",
         sheet_file(lambda p: link(p, "/dev/zero"))),
    Case("dedoose-sparse-300mb", "a 300 MB (sparse) sheet is refused unread",
         sheet_file(lambda p: sparse(p, 300 * MB)), unread_mb=200),
    Case("dedoose-250mb-of-nul", "a 250 MB sheet of NUL bytes (under the size limit)",
         sheet_file(lambda p: sparse(p, 250 * MB, b"Media Title,Excerpt Copy\n"))),
    Case("dedoose-evil-document", "an unknown document named with ESC sequences",
         sheet_rows([[f"doc{EVIL}", "1-5", "ana", TURN, "Didactic training"]])),
    Case("dedoose-evil-code", "an unknown code named with ESC sequences (no --add-codes)",
         sheet_rows([[DOC, "Page 1: 120-300", "ana", TURN, f"Nope{EVIL}"]])),
    Case("dedoose-field-1mb", "one 1 MB excerpt cell with an unbalanced quote",
         sheet_file(lambda p: p.write_bytes(
             ",".join(DEDOOSE_HEADER).encode() + b'\r\nd,1-2,ana,"' + b"x" * MB + b"\r\n"))),
    Case("dedoose-add-codes-20000-deep", "--add-codes with a code path 20,000 levels deep",
         sheet_rows([[DOC, "Page 1: 120-300", "ana", TURN,
                      "\\".join(f"L{i}" for i in range(20_000))]], DEDOOSE_HEADER,
                    "--add-codes")),
    Case("xlsx-zip64-4.5m-entries", "an .xlsx whose end record claims 4.5 million entries",
         xlsx_case(post=lambda p: claim_entries(p, 4_500_000, 4_500_000 * 46, zip64=True))),
    Case("xlsx-unclosed-sheet", "an .xlsx whose sheet XML stops mid-row",
         xlsx_case(sheet(inline("A1", "Media Title") + inline("B1", "Excerpt Copy"))[:-40])),
    Case("xlsx-shared-string-range", "an .xlsx cell naming shared string 999,999",
         xlsx_case(sheet('<row r="1"><c r="A1" t="s"><v>999999</v></c></row>'))),
    Case("xlsx-zip-slip", "an .xlsx with a ../ member", xlsx_case(extra={"../../evil.xml": b"x"})),
    Case("xlsx-sheet-laughs", "an .xlsx whose sheet declares a billion-laughs DTD",
         xlsx_case(sheet('<row r="1">' + inline("A1", "&l9;") + "</row>",
                         prolog=laughs("worksheet")[len('<?xml version="1.0"?>'):]))),
    Case("xlsx-dimension-bomb", "an .xlsx claiming A1:XFD1048576 with a cell in each corner",
         xlsx_case(sheet('<row r="1">' + inline("A1", "Media Title") + '</row>'
                         '<row r="1048576">' + inline("XFD1048576", "x") + "</row>",
                         "A1:XFD1048576"))),
    Case("xlsx-sheet-declares-600mb", "an .xlsx sheet declaring 600 MB unpacked",
         xlsx_case(post=lambda p: declare_size(p, "xl/worksheets/sheet1.xml", 600 * MB))),
    Case("xlsx-rels-outside", "an .xlsx whose sheet relationship points outside the package",
         xlsx_case(post=xlsx_rels_outside)),
    Case("xlsx-2m-shared-strings", "an .xlsx with 2,000,000 shared strings, unknown document",
         sheet_file(xlsx_many_strings, "x.xlsx")),
    # --- ATLAS.ti quotations
    Case("atlas-position-5000-digits", "Initial/Final Position of 5,000 digits",
         atlas_rows([["1", DOC, TURN, "Didactic training", _LONG, _LONG]],
                    ["Number", "Document", "Text Content", "Codes", "Initial Position",
                     "Final Position"])),
    Case("atlas-reference-5000-digits", "a ¶ reference of 5,000 digits",
         atlas_rows([["1", DOC, TURN, "Didactic training", f"¶ {_LONG}", "ana"]])),
    Case("atlas-code-count-5000-digits", "a Number of Codes of 5,000 digits",
         atlas_rows([["1", DOC, TURN, "Didactic training, Technical assistance", _LONG]],
                    ["Number", "Document", "Text Content", "Codes", "Number of Codes"])),
    Case("atlas-missing-text", "no quotation text column",
         atlas_rows([["1", DOC, "Didactic training"]], ["Number", "Document", "Codes"])),
    Case("atlas-junk", "binary junk read as ATLAS.ti",
         sheet_file(_junk, "q.csv", "--format", "atlasti", "--coder", "ana")),
    Case("atlas-1000x80-code-pieces", "1,000 quotations with 80 comma pieces each (cubic "
         "grouping) and an unknown document", atlas_many_pieces),
    # --- pseudonymise: the names file
    Case("names-fifo", "--names is a FIFO", names_file(fifo)),
    Case("names-dev-zero", "--names is a link to /dev/zero",
         names_file(lambda p: link(p, "/dev/zero"))),
    Case("names-folder", "--names is a folder", names_file(lambda p: p.mkdir())),
    Case("names-sparse-1.1gb", "--names is 1.1 GB (sparse), refused unread",
         names_file(lambda p: sparse(p, int(1.1 * GB), b"name\n")), unread_mb=300),
    Case("names-latin1", "--names is not UTF-8",
         names_file(lambda p: p.write_bytes("name\nZo\xeb\n".encode("latin-1")))),
    Case("names-no-name-column", "--names has no name column",
         names_file(names_rows("person,kind\nx,place\n"))),
    Case("names-pseudonym-escape", "a pseudonym holding ESC sequences and a newline (it "
         "would enter every transcript)", names_file(
             lambda p: p.write_bytes(csv_bytes(["name", "pseudonym"], [["P01", f"X{EVIL}"]])))),
    Case("names-name-escape", "a listed name holding ESC sequences and a newline",
         _names_with_escape),
    Case("names-500k", "500,000 names (9 MB, under the size limit)", names_file(many_names)),
    # --- pseudonymise: the key
    Case("key-fifo", "--key is a FIFO", key_file(fifo), out="key.csv",
         check=is_kind("key.csv", stat.S_ISFIFO)),
    Case("key-dev-zero", "--key is a link to /dev/zero",
         key_file(lambda p: link(p, "/dev/zero"))),
    Case("key-sparse-1.1gb", "--key is 1.1 GB (sparse), refused unread",
         key_file(lambda p: sparse(p, int(1.1 * GB), b"name,pseudonym\n")), unread_mb=300),
    Case("key-chardev", "--key is a character device", key_file(chardev), out="key.csv",
         check=is_kind("key.csv", stat.S_ISCHR)),
    Case("key-inside-project-by-link", "--key in a folder that links into the project",
         key_through_link),
    Case("key-pseudonym-escape", "a key whose pseudonym holds ESC sequences and a newline",
         key_file(lambda p: p.write_bytes(csv_bytes(["name", "pseudonym", "kind", "count"], [
             ["P01", f"Y\x1b]0;pwned\x07{EVIL}", "", "1"]])))),
    Case("key-folder", "--key is a folder", key_file(lambda p: p.mkdir())),
    # --- outputs
    *_output_cases(),
]


# --------------------------------------------------------------------------- exit 0, safely


def codings_in_range(ctx: Ctx) -> None:
    """Every stored coding lies inside its document's text."""
    conn = sqlite3.connect(ctx.project / "project.sqlite")
    try:
        bad = conn.execute(
            "SELECT t.document, c.start, c.end FROM codings c JOIN transcripts t "
            "ON t.id = c.transcript_id WHERE c.start < 0 OR c.end <= c.start "
            "OR c.end > length(t.text)").fetchall()
    finally:
        conn.close()
    assert not bad, f"codings outside their text: {bad}"


def no_controls_stored(ctx: Ctx) -> None:
    conn = sqlite3.connect(ctx.project / "project.sqlite")
    try:
        texts = [r[0] for r in conn.execute("SELECT text FROM transcripts")]
    finally:
        conn.close()
    assert not any(CONTROLS_RE.search(t) for t in texts), "control characters were stored"


def _qdpx_users(ctx: Ctx) -> list[str]:
    qde = project_xml(text_source(1, "internal://a.txt", [selection(1, 4, 11, C_TOP)]))
    qde = qde.replace('name="Anna"', f'name="Anna{EVIL_XML}"')
    return _import(qdpx(ctx.path("p.qdpx"), qde))


def _qdpx_missing_source_name(ctx: Ctx) -> list[str]:
    qde = project_xml(text_source(1, "internal://a.txt", [selection(1, 4, 11, C_TOP)])
                      + text_source(2, "internal://gone.txt", name=f"Gone{EVIL_XML}"))
    return _import(qdpx(ctx.path("p.qdpx"), qde))


def _qdpx_code_colour(ctx: Ctx) -> list[str]:
    book = (f'<CodeBook><Codes><Code guid="{C_TOP}" name="Trust{EVIL_XML}" '
            f'color="#zz{EVIL_XML}" isCodable="true"/></Codes></CodeBook>')
    qde = project_xml(text_source(1, "internal://a.txt", [selection(1, 4, 11, C_TOP)]),
                      codebook=book)
    return _import(qdpx(ctx.path("p.qdpx"), qde))


def _dedoose_coder(ctx: Ctx) -> list[str]:
    row = [DOC, "Page 1: 120-300", f"ana{EVIL}", TURN, "Didactic training"]
    return _excerpts(dedoose(ctx.path("x.csv"), [row]))


#: Cases the library rightly accepts (exit 0): a source it must not read is *left out*
#: and listed (importing the rest, as NVivo exports often name files elsewhere); controls
#: in a source become spaces (offsets kept); unusable selections are skipped with a
#: warning. Each must still print safely, read nothing it must not, write nothing
#: outside the project, and keep memory bounded.
ACCEPTED: list[Case] = [
    Case("ok-qdpx-absolute-source", "absolute:// source outside the archive: left out, unread",
         qdpx_absolute, check=no_secret),
    Case("ok-qdpx-relative-escape", "relative://../../ source: left out, unread",
         qdpx_relative_escape, check=no_secret),
    Case("ok-qdpx-basepath-outside", "a basePath pointing elsewhere: not followed",
         qdpx_base_path_outside, check=no_secret),
    Case("ok-qdpx-bare-path-on-disk", "a bare source path found only beside the archive: "
         "unread", qdpx_bare_path_on_disk, check=no_secret),
    Case("ok-sources-dir-dotdot", "--sources-dir given, the source climbs out with ../",
         qdpx_sources_dir(lambda d: f"absolute://{d}/../notes.txt", _secret_beside),
         check=no_secret),
    Case("ok-sources-dir-link-out", "--sources-dir given, its a.txt links outside it",
         qdpx_sources_dir(lambda d: "relative://a.txt", _link_out), check=no_secret),
    Case("ok-sources-dir-fifo", "--sources-dir given, its a.txt is a FIFO (no hang)",
         qdpx_sources_dir(lambda d: "relative://a.txt", lambda ctx, d: fifo(d / "a.txt"))),
    Case("ok-qde-source-environ", "a source beside the .qde linking to /proc/self/environ",
         qde_source_environ, check=no_environment),
    Case("ok-qde-source-outside", "a source beside the .qde linking to a file elsewhere",
         qde_source_outside, check=no_secret),
    Case("ok-qde-source-dev-zero", "a source beside the .qde linking to /dev/zero (no hang)",
         qde_source_dev_zero),
    Case("ok-qde-source-fifo", "a source beside the .qde that is a FIFO (no hang)",
         qde_source_fifo),
    Case("ok-qde-source-folder", "a source beside the .qde that is a folder",
         qde_source_folder),
    Case("ok-qdpx-source-nul", "NUL bytes in a source become spaces, none stored",
         qdpx_source_bytes(b"P1: I trust\x00them.\x00\x1b[2J\n" * 3),
         check=no_controls_stored),
    Case("ok-qdpx-position-5000-digits", "a 5,000-digit position: selection skipped",
         qdpx_positions(_LONG, _LONG + "9"), check=codings_in_range),
    Case("ok-qdpx-position-4000-digits", "a 4,000-digit end position: selection skipped",
         qdpx_positions("4", "9" * 4000), check=codings_in_range),
    Case("ok-qdpx-position-negative", "negative positions: selection skipped",
         qdpx_positions("-11", "-4"), check=codings_in_range),
    Case("ok-qdpx-user-name", "a user named with CSI, newline and RLO is printed safely",
         _qdpx_users),
    Case("ok-qdpx-missing-source-name", "a missing source's CSI name is printed safely",
         _qdpx_missing_source_name),
    Case("ok-qdpx-code-colour", "a bad colour warning naming CSI codes is printed safely",
         _qdpx_code_colour),
    Case("ok-dedoose-coder", "an Excerpt Creator with ESC sequences is printed safely",
         _dedoose_coder),
]

#: The control: a clean archive imports, so the harness's checks are not vacuous.
CONTROL_QDPX = Case("control-qdpx", "a clean archive imports",
                    lambda ctx: _import(qdpx(ctx.path("p.qdpx"))))
