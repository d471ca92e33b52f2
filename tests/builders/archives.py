"""Archives that lie, and the one-line refusal ``isp-nlp import`` must give for them."""

from __future__ import annotations

import struct
from pathlib import Path

from click.testing import CliRunner

from isp_nlp.cli import cli
from tests.builders.tables import tables


def lie_about_size(path: Path, member: str, size: int) -> None:
    """Rewrite the uncompressed size ``member`` declares (local and central headers)."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        pos = data.find(sig)
        while pos >= 0:
            name_at = pos + (30 if sig == b"PK\x03\x04" else 46)
            if data[name_at:name_at + len(name)] == name:
                struct.pack_into("<I", data, pos + offset, size)
            pos = data.find(sig, pos + 4)
    path.write_bytes(bytes(data))


def import_refused(project: Path, path: Path, *needles: str) -> None:
    """The CLI refuses ``path`` in one line with exit 2 and leaves the project as it was."""
    before = tables(project)
    result = CliRunner().invoke(cli, ["--project", str(project), "import", str(path)])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert tables(project) == before
