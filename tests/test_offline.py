"""Embedding with the real model works with every network call blocked.

The check runs in a fresh interpreter so that the socket guard is installed
before anything (torch, transformers, huggingface_hub) is imported, and with
the HF offline variables removed so the library must set them itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

GUARD = textwrap.dedent(
    """
    import json, os, socket, sys

    attempts = []

    def _blocked(name):
        def guard(*args, **kwargs):
            attempts.append(f"{name}{args[1:] if name.startswith('socket.') else args}")
            raise OSError(f"network blocked by test: {name}")
        return guard

    socket.socket.connect = _blocked("socket.connect")
    socket.socket.connect_ex = _blocked("socket.connect_ex")
    socket.create_connection = _blocked("create_connection")
    socket.getaddrinfo = _blocked("getaddrinfo")
    """
)

EMBED = textwrap.dedent(
    """
    assert "HF_HUB_OFFLINE" not in os.environ
    from isp_nlp.embed import SentenceTransformerEmbedder

    emb = SentenceTransformerEmbedder()
    vecs = emb.encode(["The nurses were trained.", "We co-designed the toolkit together."])
    print(json.dumps({
        "shape": list(vecs.shape),
        "attempts": attempts,
        "hf_hub_offline": os.environ.get("HF_HUB_OFFLINE"),
        "transformers_offline": os.environ.get("TRANSFORMERS_OFFLINE"),
        "model_id": emb.model_id,
    }))
    sys.exit(1 if attempts else 0)
    """
)


PROBE = textwrap.dedent(
    """
    import urllib.request
    try:
        urllib.request.urlopen("http://example.com/", timeout=5)
    except OSError:
        pass
    print(json.dumps({"attempts": attempts}))
    """
)


def _run(script: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    return subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=240
    )


def test_guard_records_and_blocks_a_connection() -> None:
    proc = _run(GUARD + PROBE)
    assert proc.returncode == 0, proc.stderr[-3000:]
    attempts = json.loads(proc.stdout.splitlines()[-1])["attempts"]
    assert attempts and "example.com" in attempts[0]


@pytest.mark.real_model
def test_embedding_makes_no_network_call() -> None:
    proc = _run(GUARD + EMBED)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert lines, f"no result printed; exit {proc.returncode}; stderr:\n{proc.stderr[-3000:]}"
    result = json.loads(lines[-1])
    assert result["attempts"] == [], f"network calls attempted: {result['attempts']}"
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert result["shape"] == [2, 384]
    assert result["hf_hub_offline"] == "1" and result["transformers_offline"] == "1"
    assert result["model_id"] == "all-MiniLM-L6-v2"
