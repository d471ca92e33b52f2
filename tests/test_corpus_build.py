"""The bundled demo corpus is what its YAML sources render to, byte for byte."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.builders.paths import CORPUS


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


def test_build_reproduces_the_committed_corpus(tmp_path: Path) -> None:
    copy = tmp_path / "isp-demo"
    shutil.copytree(CORPUS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    for generated in (copy / "transcripts").iterdir():
        generated.unlink()
    (copy / "seed_codes.csv").unlink()
    done = subprocess.run([sys.executable, str(copy / "build.py")], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    expected, rebuilt = _files(CORPUS), _files(copy)
    assert sorted(rebuilt) == sorted(expected)
    changed = [name for name in expected if rebuilt[name] != expected[name]]
    assert not changed, f"build.py output differs from the committed files: {changed}"
