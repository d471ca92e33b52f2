"""REFI-QDA files built by hand: project.qde text, .qdpx archives, and reading them back.

The GUIDs are fixed (``U1``/``U2`` users, ``C_*`` codes, :func:`item_guid` for sources,
selections and codings), so a test can name what it built.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from xml.etree import ElementTree as ET

from isp_nlp.interchange.refi_codebook import PROJECT_NS

NS = "urn:QDA-XML:project:1.0"
U1 = "aaaaaaaa-0000-0000-0000-000000000001"
U2 = "aaaaaaaa-0000-0000-0000-000000000002"
C_TOP = "cccccccc-0000-0000-0000-000000000001"
C_KID = "cccccccc-0000-0000-0000-000000000002"
C_PUSH = "cccccccc-0000-0000-0000-000000000003"
#: Namespace map for ElementTree searches in a project.qde read back.
QDE_NS = {"q": PROJECT_NS}


def item_guid(n: int) -> str:
    """The GUID of source, selection or coding number ``n``."""
    return f"eeeeeeee-0000-0000-0000-{n:012d}"


def codebook_xml(extra: str = "") -> str:
    return (
        "<CodeBook><Codes>"
        f'<Code guid="{C_TOP}" name="Trust" isCodable="true">'
        f'<Code guid="{C_KID}" name="Doubt" isCodable="true"/></Code>'
        '<Code guid="cccccccc-0000-0000-0000-00000000000f" name="Stage" isCodable="false">'
        f'<Code guid="{C_PUSH}" name="push" isCodable="true"/></Code>'
        f"{extra}</Codes></CodeBook>")


def selection(n: int, start: int, end: int, *codes: str, user: str = U1,
              description: str = "", coding_user: str = "", noteref: str = "") -> str:
    codings = "".join(
        f'<Coding guid="{item_guid(1000 + n * 10 + i)}"'
        + (f' creatingUser="{coding_user}"' if coding_user else "")
        + f'><CodeRef targetGUID="{c}"/></Coding>' for i, c in enumerate(codes))
    desc = f"<Description>{description}</Description>" if description else ""
    ref = f'<NoteRef targetGUID="{noteref}"/>' if noteref else ""
    return (f'<PlainTextSelection guid="{item_guid(n)}" startPosition="{start}" '
            f'endPosition="{end}" '
            f'creatingUser="{user}" creationDateTime="2024-01-0{n % 9 + 1}T10:00:00Z">'
            f"{desc}{codings}{ref}</PlainTextSelection>")


def project_xml(sources: str, *, notes: str = "", base_path: str = "",
                codebook: str | None = None) -> str:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><Project xmlns="{NS}" name="t" '
        f'origin="Test QDA 1.0" basePath="{base_path}"><Users>'
        f'<User guid="{U1}" id="AN" name="Anna"/><User guid="{U2}" id="BE"/></Users>'
        f"{codebook_xml() if codebook is None else codebook}<Sources>{sources}</Sources>"
        f"{notes}</Project>")


def write_qdpx(path: Path, qde: str, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("project.qde", qde)
        for name, data in members.items():
            z.writestr(name, data)
    return path


def text_source(guid: int, path: str, selections: Sequence[str] = (), name: str | None = "Doc",
                rich: str = "", inline: str | None = None, noteref: str = "") -> str:
    attrs = f'guid="{item_guid(guid)}"' + (f' name="{name}"' if name is not None else "")
    if path:
        attrs += f' plainTextPath="{path}"'
    if rich:
        attrs += f' richTextPath="{rich}"'
    body = (f"<PlainTextContent>{inline}</PlainTextContent>" if inline is not None else "")
    body += "".join(selections) + (f'<NoteRef targetGUID="{noteref}"/>' if noteref else "")
    return f"<TextSource {attrs}>{body}</TextSource>"


def read_qde(path: Path) -> ET.Element:
    """The project.qde of the archive ``path``, parsed."""
    with zipfile.ZipFile(path) as archive:
        return ET.fromstring(archive.read("project.qde"))


def qde_selections(root: ET.Element) -> list[dict]:
    """Every PlainTextSelection of a parsed project.qde, with its users' names."""
    users = {u.get("guid"): u.get("name") for u in root.iterfind("q:Users/q:User", QDE_NS)}
    out = []
    for source in root.iterfind("q:Sources/q:TextSource", QDE_NS):
        for sel in source.iterfind("q:PlainTextSelection", QDE_NS):
            out.append({
                "document": source.get("name"), "guid": sel.get("guid"),
                "start": int(sel.get("startPosition")), "end": int(sel.get("endPosition")),
                "user": users[sel.get("creatingUser")],
                "description": sel.findtext("q:Description", namespaces=QDE_NS),
                "codes": [c.find("q:CodeRef", QDE_NS).get("targetGUID")
                          for c in sel.iterfind("q:Coding", QDE_NS)],
                "coding_users": {users[c.get("creatingUser")]
                                 for c in sel.iterfind("q:Coding", QDE_NS)},
            })
    return out


def rewrite_archive(path: Path, out: Path,
                    change: Callable[[str, bytes], bytes | str | None]) -> Path:
    """A copy of the archive ``path`` with ``change(name, data)`` applied to each member
    (None drops it)."""
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = change(info.filename, src.read(info))
            if data is not None:
                dst.writestr(info, data)
    return out
