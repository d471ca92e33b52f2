"""Every output a command writes is a regular file or a new path, refused otherwise.

``--out`` naming a device, a named pipe, a folder or a symlink to a device is refused in
one line (exit 2) before anything is written: the device stays a device (as root,
``--out /dev/null`` once replaced the system's /dev/null with a regular file), a FIFO
never blocks, and no temporary file is left behind. ``backup`` refuses a folder inside
the project; ``precode`` reports the pipes and devices of a wave folder.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result

from tests.builders.terminal import Hostile, hostile_transcript, run


class Hung(BaseException):
    """Raised by the alarm: the command blocked (a FIFO opened for writing)."""


@pytest.fixture
def no_hang() -> Iterator[None]:
    def ring(signum: int, frame: object) -> None:
        raise Hung("the command blocked for 20 s")

    old = signal.signal(signal.SIGALRM, ring)
    signal.alarm(20)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _device(path: Path) -> Path:
    """A character device like /dev/null, made in the test's folder (root only)."""
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot make a device node here ({exc})")
    return path


def _target(kind: str, folder: Path, name: str) -> tuple[Path, Callable[[os.stat_result], bool]]:
    path = folder / name
    if kind == "device":
        return _device(path), lambda s: stat.S_ISCHR(s.st_mode)
    if kind == "fifo":
        os.mkfifo(path)
        return path, lambda s: stat.S_ISFIFO(s.st_mode)
    if kind == "folder":
        path.mkdir()
        return path, lambda s: stat.S_ISDIR(s.st_mode) and not any(path.iterdir())
    device = _device(folder / "device")
    path.symlink_to(device)
    return path, lambda s: path.is_symlink() and stat.S_ISCHR(s.st_mode)


#: Each command writing a user-named file, with the name's suffix.
COMMANDS: dict[str, tuple[str, Callable[[Hostile, Path], list[str]]]] = {
    "report": (".html", lambda h, out: ["report", "--out", str(out)]),
    "export qdpx": (".qdpx", lambda h, out: ["export", "--out", str(out)]),
    "export qdc": (".qdc", lambda h, out: ["export", "--out", str(out)]),
    "export-sheet": (".csv", lambda h, out: ["export-sheet", "--out", str(out)]),
    "export-sheet xlsx": (".xlsx", lambda h, out: ["export-sheet", "--out", str(out)]),
    "export-codes": (".csv", lambda h, out: ["export-codes", str(out)]),
    "codebook export": (".qdc", lambda h, out: ["codebook", "export", "--out", str(out)]),
    "disagreements --out": (".csv", lambda h, out: ["disagreements", "--out", str(out)]),
    "evaluate --out": (".json", lambda h, out: [
        "evaluate", str(h.seed), "--folds", "2", "--embedder", "hashing-256", "--repeats", "1",
        "--out", str(out)]),
    "pseudonymise --key": (".csv", lambda h, out: ["pseudonymise", "--key", str(out)]),
    "precode --out": ("", lambda h, out: ["precode", str(h.root / "wave"), "--from",
                                          str(h.project), "--out", str(out)]),
}
KINDS = ("device", "fifo", "folder", "symlink")


def _one_line(result: Result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_an_output_that_is_not_a_file_is_refused_and_left_alone(
        hostile: Hostile, tmp_path: Path, command: str, kind: str, no_hang: None) -> None:
    suffix, args = COMMANDS[command]
    if command == "precode --out" and kind == "folder":
        pytest.skip("precode --out names a folder")
    wave = hostile.root / "wave"
    if not wave.exists():
        wave.mkdir()
        (wave / "w1.txt").write_text(hostile_transcript(1), "utf-8")
    project = tmp_path / "project"
    shutil.copytree(hostile.project, project)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target, still = _target(kind, out_dir, "target" + suffix)
    before = sorted(p.name for p in out_dir.iterdir())
    line = _one_line(run(*args(hostile, target), project=project))
    assert str(target) in line, line
    assert still(target.stat()), f"{command}: {target} was replaced"
    assert sorted(p.name for p in out_dir.iterdir()) == before  # no .tmp left behind


@pytest.mark.parametrize("command", ["report", "export-codes", "codebook export",
                                     "disagreements --out"])
def test_a_missing_folder_is_named(hostile: Hostile, tmp_path: Path, command: str) -> None:
    suffix, args = COMMANDS[command]
    target = tmp_path / "nowhere" / ("x" + suffix)
    line = _one_line(run(*args(hostile, target), project=hostile.project))
    assert "does not exist" in line and "nowhere" in line, line
    assert not (tmp_path / "nowhere").exists()


def test_the_device_message_says_what_to_do(hostile: Hostile, tmp_path: Path) -> None:
    device = _device(tmp_path / "null.html")
    line = _one_line(run("report", "--out", str(device), project=hostile.project))
    assert line == (f"Error: --out {device} is a device, not a file; give the path of a "
                    "file to write.")


@pytest.mark.parametrize("inside", ["models/bk", "bk", "models/../models/bk2"])
def test_backup_into_the_project_itself_is_refused(hostile: Hostile, tmp_path: Path,
                                                   inside: str) -> None:
    project = tmp_path / "project"
    shutil.copytree(hostile.project, project)
    before = sorted(str(p) for p in project.rglob("*"))
    line = _one_line(run("backup", str(project / inside), project=project))
    assert "inside the project folder" in line, line
    assert sorted(str(p) for p in project.rglob("*")) == before


@pytest.mark.parametrize("kind", ["device", "fifo", "symlink"])
def test_backup_onto_a_device_or_pipe_is_refused(hostile: Hostile, tmp_path: Path, kind: str,
                                                 no_hang: None) -> None:
    target, still = _target(kind, tmp_path, "bk")
    line = _one_line(run("backup", str(target), project=hostile.project))
    assert "not a folder" in line, line
    assert still(target.stat())


def test_backup_skips_special_files_among_the_models(hostile: Hostile, tmp_path: Path,
                                                     no_hang: None) -> None:
    project = tmp_path / "project"
    shutil.copytree(hostile.project, project)
    os.mkfifo(project / "models" / "pipe")
    (project / "models" / "zero").symlink_to("/dev/zero")
    result = run("backup", str(tmp_path / "bk"), project=project)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "bk" / "project.sqlite").is_file()
    assert not (tmp_path / "bk" / "models" / "pipe").exists()
    assert not (tmp_path / "bk" / "models" / "zero").exists()


def test_precode_reports_pipes_devices_and_links_out_of_the_wave(
        hostile: Hostile, tmp_path: Path, no_hang: None) -> None:
    wave = tmp_path / "wave"
    wave.mkdir()
    (wave / "w1.txt").write_text(hostile_transcript(1), "utf-8")
    os.mkfifo(wave / "pipe.txt")
    (wave / "zero.txt").symlink_to("/dev/zero")
    outside = tmp_path / "secret.txt"
    outside.write_text(hostile_transcript(2), "utf-8")
    (wave / "elsewhere.txt").symlink_to(outside)
    result = run("precode", str(wave), "--from", str(hostile.project), "--out",
                 str(tmp_path / "out"))
    assert result.exit_code == 1, result.output
    skipped = [line for line in result.stderr.splitlines() if "skipped" in line]
    assert len(skipped) == 3, result.stderr
    text = "\n".join(skipped)
    assert "pipe.txt: is a named pipe (FIFO)" in text
    assert "zero.txt: is a device" in text
    assert "elsewhere.txt: is a symbolic link leading out of the wave folder" in text
    assert "Pre-coded 1 transcripts" in result.stdout
