"""Pre-code a new interview wave with a trained project's model, in one call.

:func:`precode_wave` reads every transcript in a folder into a *wave project*
(``OUT_DIR``, a normal isp-nlp project holding the seed project's codebook and a copy
of its latest model), scores every codable segment through the same
:func:`isp_nlp.pipeline.suggest_project` that ``isp-nlp suggest`` runs, and writes
the files a team opens next: ``wave.qdpx`` (the suggestions as codings of the model's
user, for NVivo, ATLAS.ti or MAXQDA), ``suggestions.csv`` and ``summary.html``, each
stating first whether to trust the model (:mod:`isp_nlp.suggest.trust`, measured in the
seed project and kept in the wave project for ``review`` and ``status``). A file
that cannot be read is reported and skipped; the others are pre-coded. So is an entry of
the wave folder that is not a plain file: a named pipe, a device, a socket, or a symbolic
link leading to one or out of the wave folder (its contents would end up in files the
team shares). Coders can go on
with ``isp-nlp --project OUT_DIR review``.
"""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from isp_nlp.errors import IspNlpError, ModelError, ProjectError
from isp_nlp.ingest.readers import SUPPORTED_SUFFIXES, read_transcript
from isp_nlp.ingest.segment import segment_transcript
from isp_nlp.pipeline import project_embedder, save_bundle, suggest_project
from isp_nlp.precode.handoff import write_wave_csv, write_wave_qdpx
from isp_nlp.project import check_skip_speakers
from isp_nlp.records import STAGE_DIMENSION, Codebook, Segment, Suggestion, Transcript
from isp_nlp.report.wave_summary import (
    FailedFile,
    TranscriptSummary,
    render_wave_summary,
    summarise_transcript,
)
from isp_nlp.store.database import Store, project_db
from isp_nlp.store.files import atomic_write_text
from isp_nlp.store.folder import DEFAULT_EMBEDDER, init_project, open_project, require_codebook
from isp_nlp.store.registry import now
from isp_nlp.suggest.bundle import SuggesterModel
from isp_nlp.suggest.training_data import humanly_coded
from isp_nlp.suggest.trust import (
    ModelTrust,
    project_trust,
    record_trust,
    trust_paragraphs,
    with_wave,
)

SUMMARY_NAME = "summary.html"
QDPX_NAME = "wave.qdpx"
CSV_NAME = "suggestions.csv"


@dataclass(frozen=True)
class WaveOutcome:
    """What :func:`precode_wave` did: per-file results, summaries and the files written."""

    out_dir: Path
    model_id: str
    transcripts: tuple[TranscriptSummary, ...]
    failed: tuple[FailedFile, ...]
    outputs: dict[str, Path] = field(default_factory=dict)
    segments_scored: int = 0
    #: Whether to trust the model (:mod:`isp_nlp.suggest.trust`), stated first in each file.
    trust: ModelTrust = ModelTrust(None)
    #: Per document, each single-choice dimension's name and the share of codable segments
    #: whose value the model left open (None without codable segments), in codebook order.
    left_open: Mapping[str, tuple[tuple[str, float | None], ...]] = field(
        default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed


def wave_files(wave_dir: Path) -> list[Path]:
    """The transcripts in ``wave_dir`` and its subfolders (hidden files left out), sorted."""
    return wave_entries(wave_dir)[0]


def wave_entries(wave_dir: Path) -> tuple[list[Path], list[FailedFile]]:
    """The transcripts in ``wave_dir`` and its subfolders (hidden files left out), sorted,
    and the entries skipped because they are not plain files inside the folder."""
    if not wave_dir.is_dir():
        raise ProjectError(f"{wave_dir} is not a folder; expected the folder of the wave's "
                           "transcripts")
    files: list[Path] = []
    skipped: list[FailedFile] = []
    home = wave_dir.resolve()
    for p in sorted(wave_dir.rglob("*")):
        if any(part.startswith(".") for part in p.relative_to(wave_dir).parts):
            continue
        why = _not_plain(p, home)
        if why:
            skipped.append(FailedFile(str(p.relative_to(wave_dir)), why))
        elif p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES:
            files.append(p)
    if not files:
        found = f" ({skipped[0].path} {skipped[0].reason})" if skipped else ""
        raise ProjectError(
            f"{wave_dir} holds no transcripts{found}; expected files ending in "
            f"{', '.join(SUPPORTED_SUFFIXES)}"
        )
    return files, skipped


def _not_plain(path: Path, home: Path) -> str:
    """Why the wave entry ``path`` is skipped unread, or '' for a file or folder inside."""
    try:
        link = stat.S_ISLNK(path.lstat().st_mode)
        info = path.stat()
    except OSError as exc:
        return f"cannot be checked ({exc.strerror or exc}); check the entry"
    if stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode):
        if link and not path.resolve().is_relative_to(home):
            return ("is a symbolic link leading out of the wave folder; copy the "
                    "transcript into the folder instead")
        return ""
    kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(info.st_mode) else "a socket"
            if stat.S_ISSOCK(info.st_mode) else "a device")
    return f"is {kind}, not a file, so it was not read; replace it with a saved transcript"


def _adopt_model(source: Store, wave: Store) -> SuggesterModel:
    """Copy the seed project's latest model into the wave project and register it there."""
    info = source.latest_model()
    if info is None:
        raise ModelError(
            f"the project at {source.path.parent} has no trained model yet; run "
            f"`isp-nlp --project {source.path.parent} train` first"
        )
    folder = source.model_bundle(info["id"])
    model = SuggesterModel.load(folder)
    save_bundle(wave, model, folder)
    return model


def _prepare_wave_project(source_dir: Path, out_dir: Path
                          ) -> tuple[Store, SuggesterModel, ModelTrust]:
    if project_db(out_dir).resolve() == project_db(source_dir).resolve():
        raise ProjectError(f"--out {out_dir} is the seed project itself; choose a new folder "
                           "for the wave")
    with open_project(source_dir) as source:
        codebook = require_codebook(source)
        embedder = source.get_setting("embedder", DEFAULT_EMBEDDER) or DEFAULT_EMBEDDER
        init_project(out_dir, embedder=embedder)
        wave = open_project(out_dir)
        try:
            if wave.get_setting("embedder", DEFAULT_EMBEDDER) != embedder:
                raise ProjectError(
                    f"{out_dir} embeds with '{wave.get_setting('embedder')}' but the model "
                    f"of {source_dir} was trained on '{embedder}' embeddings; choose a new "
                    "--out folder"
                )
            if wave.codebook() != codebook:
                wave.save_codebook(codebook, f"{source_dir} (seed project)")
            model = _adopt_model(source, wave)
            trust = record_trust(wave, project_trust(source), source_dir.resolve().name)
        except BaseException:
            wave.close()
            raise
    return wave, model, trust


def _read_wave(files: Sequence[Path], wave_dir: Path, on_file: Callable[[Path], None] | None
               ) -> tuple[list[tuple[str, Transcript]], list[FailedFile]]:
    """Read every file; one that cannot be read (or repeats a document name) is listed."""
    read: list[tuple[str, Transcript]] = []
    failed: list[FailedFile] = []
    seen: dict[str, str] = {}
    for path in files:
        if on_file is not None:
            on_file(path)
        shown = str(path.relative_to(wave_dir))
        try:
            transcript = read_transcript(path)
        except (IspNlpError, OSError, UnicodeError) as exc:
            failed.append(FailedFile(shown, str(exc)))
            continue
        if transcript.document in seen:
            failed.append(FailedFile(shown, f"its document name '{transcript.document}' is "
                                     f"also used by {seen[transcript.document]}; rename one"))
            continue
        seen[transcript.document] = shown
        read.append((shown, transcript))
    return read, failed


def _store_transcript(wave: Store, transcript: Transcript, stored: dict[str, tuple[str, str]],
                      *, unit: str, max_chars: int, skip: Sequence[str]) -> None:
    """Segment and store ``transcript``; one already held unchanged keeps its segments
    (so a re-run does not segment again) and only gets this run's codable flags."""
    if stored.get(transcript.document) == (transcript.sha256, unit):
        names = {n.strip().casefold() for n in skip}
        wave.set_codable([replace(s, codable=not (s.speaker is not None
                                                  and s.speaker.casefold() in names))
                          for s in wave.segments(document=transcript.document)])
        return
    segments = segment_transcript(transcript, unit=unit, max_chars=max_chars,
                                  skip_speakers=tuple(skip))
    wave.add_transcripts([(transcript, segments, unit)], replace=True)


def precode_wave(
    wave_dir: str | Path,
    source_dir: str | Path,
    out_dir: str | Path,
    *,
    unit: str = "turn",
    max_chars: int = 2000,
    skip_speakers: Iterable[str] = (),
    embedder=None,
    progress: bool = False,
    on_file: Callable[[Path], None] | None = None,
) -> WaveOutcome:
    """Ingest, embed and suggest for every transcript in ``wave_dir``; write the summary.

    Files that fail to read are listed in the outcome and
    the summary; the others are pre-coded. Errors that stop the whole wave (no
    transcripts, no trained model, no codebook) raise :class:`IspNlpError`.
    """
    wave_dir, source_dir, out_dir = Path(wave_dir), Path(source_dir), Path(out_dir)
    files, unplain = wave_entries(wave_dir)
    wave, model, trust = _prepare_wave_project(source_dir, out_dir)
    try:
        trust = with_wave(trust, wave)
        skip = tuple(n for n in skip_speakers if n.strip())
        read, failed = _read_wave(files, wave_dir, on_file)
        failed[:0] = unplain
        check_skip_speakers(skip, (t for _, t in read))
        stored = {t["document"]: (t["sha256"], t["unit"]) for t in wave.transcripts()}
        documents: dict[str, tuple[str, tuple[str, ...]]] = {}
        for shown, transcript in read:
            try:
                _store_transcript(wave, transcript, stored, unit=unit, max_chars=max_chars,
                                  skip=skip)
            except IspNlpError as exc:
                failed.append(FailedFile(shown, str(exc)))
                continue
            documents[transcript.document] = (shown, transcript.warnings)
        scored = 0
        if documents:
            scored = _score(wave, model, embedder, progress=progress)
        suggestions = wave.suggestions(model.manifest["model_id"], with_evidence=False)
        summaries = _summaries(wave, suggestions, documents)
        codebook = require_codebook(wave)
        left_open = {d: open_shares(codebook, wave.segments(document=d), suggestions)
                     for d in documents}
        thresholds = model_thresholds(wave)
        outputs: dict[str, Path] = {}
        summary_path = out_dir / SUMMARY_NAME
        atomic_write_text(summary_path, render_wave_summary(
            wave=str(wave_dir), model_id=model.manifest["model_id"], generated_at=now(),
            transcripts=summaries, failed=failed, code_threshold=model.code_threshold,
            stage_threshold=_shown_threshold(codebook, thresholds),
            trust=trust_paragraphs(trust)))
        outputs["summary"] = summary_path
        if documents:
            outputs["qdpx"] = write_wave_qdpx(wave, out_dir / QDPX_NAME, sorted(documents),
                                              suggestions, trust)
            outputs["csv"] = write_wave_csv(wave, out_dir / CSV_NAME, suggestions, trust)
        return WaveOutcome(out_dir=out_dir, model_id=model.manifest["model_id"],
                           transcripts=tuple(summaries), failed=tuple(failed),
                           outputs=outputs, segments_scored=scored, trust=trust,
                           left_open=left_open)
    finally:
        wave.close()


def model_thresholds(wave: Store) -> dict[str, float]:
    """The abstain threshold of each single-choice dimension the wave's model suggests,
    from its registry entry (``thresholds``; an entry from before dimensions has one
    ``stage_threshold``, the default stage dimension's)."""
    info = wave.latest_model()
    manifest = info.get("manifest", {}) if info else {}
    thresholds = manifest.get("thresholds")
    if isinstance(thresholds, dict):
        return {str(k): float(v) for k, v in thresholds.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)}
    legacy = manifest.get("stage_threshold")
    return {STAGE_DIMENSION: float(legacy)} if isinstance(legacy, (int, float)) else {}


def _shown_threshold(codebook: Codebook, thresholds: Mapping[str, float]) -> float:
    """The one dimension threshold the summary's note states: the pathway dimension's,
    else the first dimension's (the note is the report's; 0.0 when there is none)."""
    dims = [d for d in (codebook.pathway, *codebook.dimensions) if d is not None]
    return next((thresholds[d.id] for d in dims if d.id in thresholds), 0.0)


def open_shares(codebook: Codebook, segments: Sequence[Segment],
                suggestions: Sequence[Suggestion]) -> tuple[tuple[str, float | None], ...]:
    """Each dimension's name and the share of the codable ``segments`` whose value the
    model left open (no suggested value); None when there are no codable segments."""
    codable = {s.id for s in segments if s.codable}
    given: dict[str, set[str]] = {}
    for s in suggestions:
        if s.suggested and s.segment_id in codable:
            given.setdefault(s.dimension, set()).add(s.segment_id)
    n = len(codable)
    return tuple((d.name or d.id, (n - len(given.get(d.id, set()))) / n if n else None)
                 for d in codebook.dimensions)


def _score(wave: Store, model: SuggesterModel, embedder, *, progress: bool) -> int:
    """Suggest for every codable segment without human codes, through ``suggest``; when the
    stored suggestions of this model already cover exactly those segments (a re-run of an
    unchanged wave) they are kept. Returns how many segments are scored."""
    coded = humanly_coded(wave.annotations())
    targets = {s.id for s in wave.segments() if s.codable and s.id not in coded}
    if targets and wave.suggested_segments(model.manifest["model_id"]) == targets:
        return len(targets)
    result = suggest_project(wave, embedder or project_embedder(wave), progress=progress)
    return int(result["segments"])


def _summaries(wave: Store, suggestions: Sequence[Suggestion],
               documents: dict[str, tuple[str, tuple[str, ...]]]) -> list[TranscriptSummary]:
    codebook = require_codebook(wave)
    names = {c.id: c.name for c in codebook.codes}
    by_segment: dict[str, list[Suggestion]] = {}
    for suggestion in suggestions:
        by_segment.setdefault(suggestion.segment_id, []).append(suggestion)
    out = []
    for document, (shown, warnings) in documents.items():
        segments = wave.segments(document=document)
        mine = [x for seg in segments for x in by_segment.get(seg.id, ())]
        out.append(summarise_transcript(document, shown, segments, mine, names, warnings))
    return out

