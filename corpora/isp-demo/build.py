"""Render the synthetic isp-nlp demo corpus from its YAML sources.

Reads every ``source/isp*.yaml`` next to this script, validates it against
``codebook.yaml`` and the corpus rules, and writes:

- ``transcripts/<document>.txt|.vtt|.docx`` (by each source's ``format``),
- ``seed_codes.csv`` (the two fictional coders' seed codes),
- the per-interview table and the seed-code summary in ``README.md`` (between
  their ``<!-- ...:start -->`` / ``<!-- ...:end -->`` markers).

Every problem found is printed and the script exits with status 1 without
writing anything. Usage: ``python corpora/isp-demo/build.py``.
Needs PyYAML and python-docx; makes no network calls; output is deterministic.
"""

from __future__ import annotations

import csv
import io
import re
import sys
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
SOURCE_DIR = HERE / "source"
TRANSCRIPT_DIR = HERE / "transcripts"
CODEBOOK = HERE / "codebook.yaml"
SEED_CSV = HERE / "seed_codes.csv"
README = HERE / "README.md"

INTERVIEWER = "Interviewer"
CODERS = ("ana", "ben")
FORMATS = ("txt", "vtt", "docx")
MIN_PARTICIPANT_TURNS = 32
MAX_CHARS = 900
PARTICIPANT_WORDS = (15, 160)
FORBIDDEN = ("<", ">", "&", "-->", "\n", "\r", "\t")
CURLY = "\u2018\u2019\u201c\u201d"
SOURCE_KEYS = {"document", "format", "participant_label", "role", "pathway", "turns"}
TURN_KEYS = {"speaker", "text", "codes"}
LABEL_LIKE = re.compile(r"^(?:[A-Za-z][\w.'-]*\s){0,3}[A-Za-z][\w.'-]*:")
FIXED_TIME = datetime(2024, 1, 15, 9, 0, 0)  # naive UTC, written with a Z suffix
CSV_HEADER = ("document", "segment", "text", "coder", "code", "stage", "speaker")


@dataclass
class Coding:
    codes: tuple[str, ...]
    stage: str


@dataclass
class SourceTurn:
    speaker: str
    text: str
    codings: dict[str, Coding] = field(default_factory=dict)


@dataclass
class Interview:
    path: Path
    document: str
    format: str
    participant: str
    role: str
    pathway: tuple[str, ...]
    turns: list[SourceTurn]

    @property
    def number(self) -> int:
        return int(re.sub(r"\D", "", self.path.stem) or 0)

    @property
    def participant_turns(self) -> list[SourceTurn]:
        return [t for t in self.turns if t.speaker != INTERVIEWER]


def load_codebook(path: Path) -> tuple[set[str], set[str]]:
    """Return (leaf code ids, stage ids) of the codebook."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    codes = data["codes"]
    parents = {c["parent"] for c in codes if c.get("parent")}
    leaves = {c["id"] for c in codes if c.get("parent") and c["id"] not in parents}
    stage = next(d for d in data["dimensions"] if d["id"] == "stage")
    stages = {v["id"] for v in stage["values"]}
    return leaves, stages


def check_text(where: str, text: object, is_participant: bool) -> list[str]:
    """Problems with one turn's text (type, length, characters, label-like start)."""
    if not isinstance(text, str) or not text.strip():
        return [f"{where}: text is missing or empty; give the turn a non-empty string"]
    problems = []
    for bad in FORBIDDEN:
        if bad in text:
            shown = repr(bad) if bad.isspace() else f"'{bad}'"
            problems.append(
                f"{where}: text contains {shown}, which breaks WebVTT/one-paragraph "
                "turns; rephrase without it"
            )
    if any(ch in text for ch in CURLY):
        problems.append(f"{where}: text contains curly quotes; use straight ASCII ' and \"")
    if len(text) > MAX_CHARS:
        problems.append(
            f"{where}: text has {len(text)} characters, more than {MAX_CHARS}; "
            "shorten it or split the turn"
        )
    if LABEL_LIKE.match(text):
        problems.append(
            f"{where}: text starts with '{text.split(':')[0]}:', which looks like a "
            "speaker label; rephrase the opening"
        )
    if is_participant:
        words = len(text.split())
        low, high = PARTICIPANT_WORDS
        if not low <= words <= high:
            problems.append(
                f"{where}: participant turn has {words} words, expected "
                f"{low}-{high}; lengthen or shorten it"
            )
    return problems


def parse_codings(
    where: str, raw: object, leaves: set[str], stages: set[str]
) -> tuple[dict[str, Coding], list[str]]:
    """Parse a turn's ``codes`` mapping {coder: {codes: [...], stage: ...}}."""
    if not isinstance(raw, dict):
        return {}, [f"{where}: 'codes' must be a mapping of coder to {{codes, stage}}"]
    codings: dict[str, Coding] = {}
    problems: list[str] = []
    for coder, value in raw.items():
        here = f"{where} coder '{coder}'"
        if coder not in CODERS:
            problems.append(f"{here}: unknown coder; expected one of {', '.join(CODERS)}")
            continue
        if not isinstance(value, dict) or set(value) != {"codes", "stage"}:
            problems.append(f"{here}: expected exactly the keys 'codes' and 'stage'")
            continue
        codes, stage = value["codes"], value["stage"]
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            problems.append(f"{here}: 'codes' must be a list of code ids (or [])")
            continue
        for code in codes:
            if code not in leaves:
                problems.append(
                    f"{here}: unknown code '{code}'; expected a leaf code id from codebook.yaml"
                )
        if len(codes) > 3 or len(set(codes)) != len(codes):
            problems.append(f"{here}: expected 0-3 distinct codes, found {codes}")
        if stage not in stages:
            problems.append(
                f"{here}: unknown stage '{stage}'; expected one of {', '.join(sorted(stages))}"
            )
        codings[coder] = Coding(tuple(codes), str(stage))
    return codings, problems


def load_interview(
    path: Path, leaves: set[str], stages: set[str]
) -> tuple[Interview | None, list[str]]:
    """Parse and validate one source file; return (interview or None, problems)."""
    name = f"source/{path.name}"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return None, [f"{name}{where}: cannot be parsed ({what}); fix the YAML"]
    if not isinstance(data, dict):
        return None, [f"{name}: expected a mapping with keys {sorted(SOURCE_KEYS)}"]
    problems = [f"{name}: missing key '{k}'" for k in sorted(SOURCE_KEYS - set(data))]
    problems += [f"{name}: unknown key '{k}'" for k in sorted(set(data) - SOURCE_KEYS)]
    if problems:
        return None, problems
    document, fmt, label = data["document"], data["format"], data["participant_label"]
    if not re.fullmatch(rf"{re.escape(path.stem)}_[a-z0-9_]+", str(document)):
        problems.append(f"{name}: document '{document}' should be '{path.stem}_<short_slug>'")
    if fmt not in FORMATS:
        problems.append(f"{name}: format '{fmt}' is not one of {', '.join(FORMATS)}")
    if not isinstance(label, str) or not label or label == INTERVIEWER:
        problems.append(
            f"{name}: participant_label must be a non-empty name other than '{INTERVIEWER}'"
        )
    pathway = data["pathway"]
    if not isinstance(pathway, list) or not pathway or any(p not in stages for p in pathway):
        problems.append(f"{name}: pathway {pathway!r} must be a non-empty list of stage ids")
    raw_turns = data["turns"]
    if not isinstance(raw_turns, list) or not raw_turns:
        return None, problems + [f"{name}: 'turns' must be a non-empty list"]
    turns: list[SourceTurn] = []
    for i, raw in enumerate(raw_turns, start=1):
        where = f"{name} turn {i}"
        if not isinstance(raw, dict) or not {"speaker", "text"} <= set(raw):
            problems.append(f"{where}: expected a mapping with 'speaker' and 'text'")
            continue
        problems += [f"{where}: unknown key '{k}'" for k in sorted(set(raw) - TURN_KEYS)]
        speaker, text = raw["speaker"], raw["text"]
        if speaker not in (INTERVIEWER, label):
            problems.append(
                f"{where}: speaker '{speaker}' is neither '{INTERVIEWER}' nor the "
                f"participant label '{label}'"
            )
        problems += check_text(where, text, speaker == label)
        codings: dict[str, Coding] = {}
        if "codes" in raw:
            if speaker == INTERVIEWER:
                problems.append(f"{where}: interviewer turns are context and must not be coded")
            codings, more = parse_codings(where, raw["codes"], leaves, stages)
            problems += more
        turns.append(SourceTurn(str(speaker), str(text), codings))
    interview = Interview(
        path, str(document), str(fmt), str(label), str(data["role"]), tuple(pathway or ()), turns
    )
    n = len(interview.participant_turns)
    if n < MIN_PARTICIPANT_TURNS:
        problems.append(
            f"{name}: has {n} participant turns, expected at least {MIN_PARTICIPANT_TURNS}"
        )
    return interview, problems


# --- renderers -------------------------------------------------------------


def render_txt(iv: Interview) -> bytes:
    return ("\n\n".join(f"{t.speaker}: {t.text}" for t in iv.turns) + "\n").encode("utf-8")


def _timestamp(ms: int) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def render_vtt(iv: Interview) -> bytes:
    """WebVTT: voice tags for odd-numbered interviews, Zoom-style labels for even ones."""
    voice = iv.number % 2 == 1
    lines = [
        "WEBVTT",
        "",
        "NOTE Synthetic demo transcript written by the isp-nlp developers. No real",
        "participants; any resemblance to real people is coincidental.",
        "",
    ]
    clock = 1500 + 700 * (iv.number % 5)
    for i, turn in enumerate(iv.turns, start=1):
        duration = max(900, 400 * len(turn.text.split()))
        text = f"<v {turn.speaker}>{turn.text}" if voice else f"{turn.speaker}: {turn.text}"
        lines += [str(i), f"{_timestamp(clock)} --> {_timestamp(clock + duration)}", text, ""]
        clock += duration + 250 + (i * 137) % 900  # small, varied pauses between turns
    return "\n".join(lines).encode("utf-8")


def render_docx(iv: Interview) -> bytes:
    """One paragraph per turn (bold 'Speaker:' run, then the text); fixed zip timestamps."""
    from docx import Document

    doc = Document()
    props = doc.core_properties
    props.title = f"Synthetic demo interview {iv.document}"
    props.author = "isp-nlp demo corpus (synthetic)"
    props.last_modified_by = "isp-nlp demo corpus (synthetic)"
    props.comments = "Synthetic transcript; no real participants."
    props.created = props.modified = FIXED_TIME
    props.revision = 1
    for turn in iv.turns:
        paragraph = doc.add_paragraph()
        paragraph.add_run(f"{turn.speaker}:").bold = True
        paragraph.add_run(f" {turn.text}")
    raw = io.BytesIO()
    doc.save(raw)
    fixed = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(fixed, "w") as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=(2024, 1, 15, 9, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            dst.writestr(entry, src.read(info.filename))
    return fixed.getvalue()


RENDERERS = {"txt": render_txt, "vtt": render_vtt, "docx": render_docx}


def render_seed_csv(interviews: list[Interview]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for iv in interviews:
        for turn in iv.turns:
            for coder in CODERS:
                coding = turn.codings.get(coder)
                if coding is None:
                    continue
                for code in coding.codes or ("",):
                    writer.writerow(
                        (iv.document, "", turn.text, coder, code, coding.stage, turn.speaker)
                    )
    return out.getvalue().encode("utf-8")


# --- summary ---------------------------------------------------------------


def cohen_kappa(a: list[bool], b: list[bool]) -> float | None:
    """Cohen's kappa for two binary ratings; None when undefined."""
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    pa, pb = sum(a) / n, sum(b) / n
    expected = pa * pb + (1 - pa) * (1 - pb)
    return None if expected == 1 else (observed - expected) / (1 - expected)


def summarise(interviews: list[Interview], leaves: set[str]) -> str:
    rows = [
        f"{'document':<34}{'turns':>6}{'part.':>6}{'ana':>5}{'ben':>5}{'both':>6}"
        f"  {'stage agreement':<16}"
    ]
    totals = [0, 0, 0, 0, 0]
    pairs: list[tuple[Coding, Coding]] = []
    for iv in interviews:
        part = iv.participant_turns
        ana = sum("ana" in t.codings for t in part)
        ben = sum("ben" in t.codings for t in part)
        both = [
            (t.codings["ana"], t.codings["ben"])
            for t in part
            if "ana" in t.codings and "ben" in t.codings
        ]
        agree = sum(a.stage == b.stage for a, b in both)
        share = f"{agree}/{len(both)} ({agree / len(both):.0%})" if both else "-"
        rows.append(
            f"{iv.document:<34}{len(iv.turns):>6}{len(part):>6}{ana:>5}{ben:>5}"
            f"{len(both):>6}  {share:<16}"
        )
        for k, v in enumerate((len(iv.turns), len(part), ana, ben, len(both))):
            totals[k] += v
        pairs += both
    agree = sum(a.stage == b.stage for a, b in pairs)
    share = f"{agree}/{len(pairs)} ({agree / len(pairs):.0%})" if pairs else "-"
    rows.append(
        f"{'TOTAL':<34}{totals[0]:>6}{totals[1]:>6}{totals[2]:>5}{totals[3]:>5}"
        f"{totals[4]:>6}  {share:<16}"
    )
    rows.append("")
    rows.append("per-code presence on turns coded by both (ana n / ben n / Cohen's kappa):")
    for code in sorted(leaves):
        a = [code in x.codes for x, _ in pairs]
        b = [code in y.codes for _, y in pairs]
        kappa = cohen_kappa(a, b)
        shown = "n/a" if kappa is None else f"{kappa:.2f}"
        rows.append(f"  {code:<24}{sum(a):>4} /{sum(b):>4} / {shown}")
    return "\n".join(row.rstrip() for row in rows)


def interview_table(interviews: list[Interview]) -> str:
    names = {"push": "push", "push_pull": "push/pull", "exchange": "exchange", "none": "none"}
    lines = ["| Document | Format | Participant | Role | Pathway |", "|---|---|---|---|---|"]
    for iv in interviews:
        path = " → ".join(names.get(p, p) for p in iv.pathway)
        lines.append(f"| `{iv.document}` | {iv.format} | {iv.participant} | {iv.role} | {path} |")
    return "\n".join(lines)


def replace_block(text: str, name: str, body: str) -> str | None:
    """Replace the generated block ``name`` in ``text``; None when its markers are missing."""
    start_marker = f"<!-- {name}:start (generated by build.py) -->"
    end_marker = f"<!-- {name}:end -->"
    start, end = text.find(start_marker), text.find(end_marker)
    if start == -1 or end < start:
        return None
    return text[: start + len(start_marker)] + "\n" + body + "\n" + text[end:]


def update_readme(blocks: dict[str, str]) -> None:
    """Rewrite the generated blocks of README.md (those whose markers are present)."""
    if not README.exists():
        return
    text = original = README.read_text(encoding="utf-8")
    for name, body in blocks.items():
        new = replace_block(text, name, body)
        if new is None:
            print(f"note: README.md has no '{name}' markers; that block was not updated")
        else:
            text = new
    if text != original:
        README.write_text(text, encoding="utf-8")


def main() -> int:
    leaves, stages = load_codebook(CODEBOOK)
    sources = sorted(SOURCE_DIR.glob("isp*.yaml"))
    if not sources:
        print(f"no source files found in {SOURCE_DIR}")
        return 1
    interviews: list[Interview] = []
    problems: list[str] = []
    for path in sources:
        iv, found = load_interview(path, leaves, stages)
        problems += found
        if iv is not None:
            interviews.append(iv)
    documents = [iv.document for iv in interviews]
    problems += [
        f"document '{d}' is used by more than one source"
        for d in sorted({d for d in documents if documents.count(d) > 1})
    ]
    if problems:
        print(f"{len(problems)} problem(s); nothing was written:")
        for problem in problems:
            print(f"  - {problem}")
        return 1

    TRANSCRIPT_DIR.mkdir(exist_ok=True)
    written = set()
    for iv in interviews:
        target = TRANSCRIPT_DIR / f"{iv.document}.{iv.format}"
        target.write_bytes(RENDERERS[iv.format](iv))
        written.add(target.name)
    for stale in TRANSCRIPT_DIR.iterdir():
        if stale.suffix.lstrip(".") in FORMATS and stale.name not in written:
            stale.unlink()
            print(f"removed stale {stale.relative_to(HERE)}")
    SEED_CSV.write_bytes(render_seed_csv(interviews))
    table = interview_table(interviews)
    summary = summarise(interviews, leaves)
    update_readme({"interview-table": table, "seed-summary": f"```text\n{summary}\n```"})

    print(
        f"wrote {len(interviews)} transcripts to {TRANSCRIPT_DIR.relative_to(HERE)}/ "
        f"and {SEED_CSV.name}"
    )
    print()
    print(summary)
    print()
    print("interview table (also written into README.md):")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
