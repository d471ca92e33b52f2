"""Benchmark: `isp-nlp precode` on a wave built from AnnoMI, against bare encoding.

Usage: python evaluation/bench_precode.py [--transcripts 50] [--unit sentence] [--work DIR]
                                          [--sessions K] [--no-results]

Builds a wave of N plain-text transcripts from the 133 AnnoMI sessions of
../shared/data/annomi/AnnoMI-full.csv (session k goes to transcript k mod N, turns
labelled Therapist/Client), trains a seed project with the real model (the demo
corpus, `isp-nlp demo`, afresh on every run), then runs, each in its own process:
  1. `isp-nlp precode WAVE --from SEED --out OUT` on a fresh OUT (cold cache),
  2. the same command again (warm cache),
  3. bare ``SentenceTransformer.encode`` of exactly the texts run 1 encoded (every
     scored segment and its previous-turn context, once each), same model and batch size.
Targets: run 1 total ≤ 1.2 × the bare encode time; run 2 ≤ 10 s; peak memory (max RSS)
≤ 1.5 GB. Writes evaluation/results/bench_precode.md and .json. Exit status 0 = all
targets met, 1 = one missed, 2 = ../shared is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ANNOMI = REPO.parent / "shared" / "data" / "annomi" / "AnnoMI-full.csv"
RESULTS = REPO / "evaluation" / "results"
RATIO_TARGET, WARM_TARGET_S, MEMORY_TARGET_MB = 1.2, 10.0, 1536.0

#: Runs one command in a child process and prints its wall time and peak RSS as JSON.
_RUNNER = """
import json, resource, sys, time
t0 = time.perf_counter()
from isp_nlp.cli import cli
try:
    cli(sys.argv[1:], prog_name="isp-nlp", standalone_mode=False)
    status = 0
except SystemExit as exc:
    status = exc.code or 0
print(json.dumps({"seconds": time.perf_counter() - t0, "status": status,
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

#: Encodes, with the bare model, the texts that precode's suggest step embedded.
_BARE = """
import json, resource, sys, time
from isp_nlp.embed import SentenceTransformerEmbedder
from isp_nlp.store.folder import open_project
from isp_nlp.suggest.training_data import humanly_coded, previous_turns
with open_project(sys.argv[1]) as store:
    segments = store.segments()
    coded = humanly_coded(store.annotations())
    targets = [s for s in segments if s.codable and s.id not in coded]
    texts = [s.text for s in targets] + [c for c in previous_turns(segments, targets) if c]
texts = list(dict.fromkeys(texts))
embedder = SentenceTransformerEmbedder()
model = embedder.load()
model.encode(texts[:64], batch_size=embedder.batch_size)
t0 = time.perf_counter()
model.encode(texts, batch_size=embedder.batch_size, convert_to_numpy=True)
print(json.dumps({"seconds": time.perf_counter() - t0, "texts": len(texts),
                  "segments": len(segments), "scored": len(targets),
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def build_wave(out: Path, n: int, sessions: int | None = None) -> dict[str, int]:
    """Write N transcripts from the first ``sessions`` AnnoMI sessions (all by default)."""
    import pandas as pd

    frame = pd.read_csv(ANNOMI, dtype=str, keep_default_na=False)
    frame = frame.drop_duplicates(["transcript_id", "utterance_id"])
    frame["tid"] = frame["transcript_id"].astype(int)
    frame["uid"] = frame["utterance_id"].astype(int)
    frame = frame.sort_values(["tid", "uid"])
    if sessions is not None:
        frame = frame[frame["tid"].isin(sorted(frame["tid"].unique())[:sessions])]
    out.mkdir(parents=True, exist_ok=True)
    files: dict[int, list[str]] = {}
    for tid, session in frame.groupby("tid", sort=True):
        lines = files.setdefault(int(tid) % n, [])
        for who, text in zip(session["interlocutor"], session["utterance_text"], strict=True):
            if text.strip():
                lines.append(f"{'Therapist' if who == 'therapist' else 'Client'}: {text.strip()}")
    for k, lines in files.items():
        (out / f"wave{k:02d}.txt").write_text("\n\n".join(lines) + "\n", encoding="utf-8")
    return {"transcripts": len(files), "turns": sum(len(v) for v in files.values()),
            "sessions": int(frame["tid"].nunique())}


def _child(code: str, *args: str) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transcripts", type=int, default=50)
    parser.add_argument("--unit", choices=("turn", "sentence"), default="sentence")
    parser.add_argument("--work", type=Path, default=None,
                        help="working folder (default: a temporary one, removed afterwards)")
    parser.add_argument("--sessions", type=int, default=None,
                        help="use only the first K AnnoMI sessions (a quick check)")
    parser.add_argument("--no-results", action="store_true",
                        help="print only; do not write evaluation/results/")
    args = parser.parse_args(argv)
    if not ANNOMI.is_file():
        print(f"../shared not found: the benchmark needs {ANNOMI}", file=sys.stderr)
        return 2
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-precode-"))
    try:
        return _run(args, work)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


def _run(args: argparse.Namespace, work: Path) -> int:
    wave, seed, out = work / "wave", work / "seed", work / "out"
    shutil.rmtree(wave, ignore_errors=True)
    counts = build_wave(wave, args.transcripts, args.sessions)
    # always trained afresh: a seed left in WORK by older code would time another model
    shutil.rmtree(seed, ignore_errors=True)
    print("training the seed project (demo corpus, real model) …", flush=True)
    _child(_RUNNER, "demo", "--out", str(seed))
    shutil.rmtree(out, ignore_errors=True)
    command = ["precode", str(wave), "--from", str(seed), "--out", str(out),
               "--unit", args.unit]
    t0 = time.perf_counter()
    cold = _child(_RUNNER, *command)
    cold["wall_seconds"] = time.perf_counter() - t0
    warm = _child(_RUNNER, *command)
    bare = _child(_BARE, str(out))
    ratio = cold["seconds"] / bare["seconds"]
    peak = max(cold["max_rss_mb"], warm["max_rss_mb"])
    checks = {
        "total_vs_bare_encode": (ratio, RATIO_TARGET, ratio <= RATIO_TARGET),
        "warm_rerun_seconds": (warm["seconds"], WARM_TARGET_S, warm["seconds"] <= WARM_TARGET_S),
        "peak_memory_mb": (peak, MEMORY_TARGET_MB, peak <= MEMORY_TARGET_MB),
    }
    import torch

    result = {
        "wave": {**counts, "unit": args.unit,
                 "segments": bare["segments"], "scored_segments": bare["scored"],
                 "texts_encoded": bare["texts"]},
        "cold": cold, "warm": warm, "bare_encode": bare,
        "checks": {k: {"value": v, "target": t, "met": ok} for k, (v, t, ok) in checks.items()},
        "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "load_average": os.getloadavg()},
    }
    text = _markdown(result)
    print(text)
    if not args.no_results:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "bench_precode.json").write_text(json.dumps(result, indent=2) + "\n")
        (RESULTS / "bench_precode.md").write_text(text)
    return 0 if all(ok for _, _, ok in checks.values()) else 1


def _markdown(r: dict) -> str:
    w, c = r["wave"], r["checks"]

    def mark(key: str) -> str:
        return "met" if c[key]["met"] else "**missed**"

    return "\n".join([
        "# Pre-coding a wave: `isp-nlp precode` against bare encoding",
        "",
        "Produced by `python evaluation/bench_precode.py` (the shipped command, each run in "
        "its own process).",
        "",
        f"Wave: {w['transcripts']} transcripts built from the {w['sessions']} AnnoMI sessions "
        f"({w['turns']} turns), unit `{w['unit']}`, every speaker coded: "
        f"{w['segments']} segments, {w['scored_segments']} scored, {w['texts_encoded']} "
        "distinct texts encoded (segments and their previous turns).",
        f"Machine: {r['machine']['cpus']} CPUs, torch threads {r['machine']['torch_threads']}, "
        f"load average at the end {', '.join(f'{x:.1f}' for x in r['machine']['load_average'])}.",
        "",
        "| measure | value | target | |",
        "|---|---|---|---|",
        f"| precode, cold cache (whole command) | {r['cold']['seconds']:.1f} s | | |",
        f"| bare `SentenceTransformer.encode` of the same texts | "
        f"{r['bare_encode']['seconds']:.1f} s | | |",
        f"| ratio | {c['total_vs_bare_encode']['value']:.2f}× | ≤ {RATIO_TARGET}× | "
        f"{mark('total_vs_bare_encode')} |",
        f"| precode again, warm cache | {r['warm']['seconds']:.1f} s | ≤ {WARM_TARGET_S:.0f} s | "
        f"{mark('warm_rerun_seconds')} |",
        f"| peak memory (max RSS of the two runs) | {c['peak_memory_mb']['value']:.0f} MB | "
        f"≤ {MEMORY_TARGET_MB:.0f} MB | {mark('peak_memory_mb')} |",
        "",
    ])


if __name__ == "__main__":
    sys.exit(main())
