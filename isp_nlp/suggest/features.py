"""Feature extraction for the suggesters: embedding, conversational context, lexical, surface.

A :class:`FeatureBuilder` turns a :class:`SegmentBatch` into one sparse row per
segment, the weighted horizontal stack of

* the segment embedding;
* the previous turn's embedding (``context_weight``; zero vector without context), or
  with ``context_turns`` > 1 and a batch :class:`~isp_nlp.coded.batch.ContextHistory`,
  a decayed mean of the previous turns' embeddings (weight ``context_decay ** j`` for the
  turn j + 1 back);
* the same decayed mean over those of the previous turns that have the segment's
  speaker (``context_same_weight``);
* word 1-2-gram and character 2-5-gram TF-IDF of the segment text, plus a token for
  its first word (``word_weight`` / ``char_weight``), fitted on the training texts
  and their context texts;
* word TF-IDF of the previous turn (``context_word_weight``);
* a few surface features of segment and context (question marks, length, opening
  word, pronoun shares) and of their overlap (embedding cosine, repeated words)
  (``surface_weight``).

A block with weight 0 is left out, and so is a lexical block whose vocabulary came out
empty (every training text empty or without terms). The learned state (vocabularies and idf
vectors) round-trips through JSON + numpy arrays, never pickle.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from isp_nlp.coded.batch import ContextHistory, SegmentBatch

_WORD = re.compile(r"[a-z0-9']+")
_QUESTION_OPENERS = frozenset(
    "what how why when where who which whose do does did is are was were can could would "
    "will shall should have has had may might am".split()
)
_REFLECTION_OPENERS = frozenset("so sounds it you seems".split())
_SURFACE_NAMES = ("has_q", "ends_q", "q_opener", "log_words", "has_excl", "is_empty",
                  "you_share", "i_share", "reflect_opener")
N_SURFACE = len(_SURFACE_NAMES)
#: Segment-vs-previous-turn features: embedding cosine, share of words repeated.
N_OVERLAP = 2


#: Values of fields added after models were first saved that reproduce those models.
_BEFORE_FIELDS: dict[str, Any] = {"context_turns": 1, "context_same_weight": 0.0}


@dataclass(frozen=True)
class FeatureSpec:
    """Block weights of the feature vector (0 switches a block off)."""

    embedding_weight: float = 1.0
    context_weight: float = 0.0
    word_weight: float = 0.0
    char_weight: float = 0.0
    context_word_weight: float = 0.0
    surface_weight: float = 0.0
    min_df: int = 1
    #: Keep only the most frequent terms of each TF-IDF vocabulary (0 = all). Bounds the
    #: size of the linear models: fitting cost grows steeply with the number of columns.
    max_terms: int = 2000
    #: Previous turns averaged into the context block (1 = the previous turn only).
    context_turns: int = 1
    #: Weight of the turn j + 1 back in that average: context_decay ** j.
    context_decay: float = 0.5
    #: Weight of the same-speaker block (the decayed mean over the segment's own speaker's
    #: turns among those ``context_turns``; 0 = off).
    context_same_weight: float = 0.0

    @property
    def uses_text(self) -> bool:
        return bool(self.word_weight or self.char_weight or self.context_word_weight)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _with_first_word(text: str) -> str:
    """The text with a marker token for its first word ("xxfirst_so so i know ...")."""
    words = _words(text)
    return f"xxfirst_{words[0] if words else 'none'} {text}"


def surface_features(texts: tuple[str, ...] | list[str]) -> np.ndarray:
    """(n, N_SURFACE) hand-made features: question marks, length, opening word."""
    out = np.zeros((len(texts), N_SURFACE), dtype=np.float64)
    for i, text in enumerate(texts):
        stripped = text.strip()
        words = _words(stripped)
        out[i] = (
            float("?" in stripped),
            float(stripped.endswith("?")),
            float(bool(words) and words[0] in _QUESTION_OPENERS),
            np.log1p(len(words)) / 5.0,
            float("!" in stripped),
            float(not words),
            sum(w in ("you", "you're", "your", "you've") for w in words) / max(len(words), 1),
            sum(w in ("i", "i'm", "me", "my", "i've") for w in words) / max(len(words), 1),
            float(bool(words) and words[0] in _REFLECTION_OPENERS),
        )
    return out


def overlap_features(texts: tuple[str, ...] | list[str], context_texts: tuple[str, ...]
                     | list[str], emb: np.ndarray, ctx_emb: np.ndarray) -> np.ndarray:
    """(n, N_OVERLAP): cosine(segment, previous turn) and share of segment words in it."""
    norms = np.linalg.norm(emb, axis=1) * np.linalg.norm(ctx_emb, axis=1)
    cos = np.divide((emb * ctx_emb).sum(axis=1), norms, out=np.zeros(len(emb)),
                    where=norms > 0)
    share = np.zeros(len(texts))
    for i, (text, ctx) in enumerate(zip(texts, context_texts, strict=True)):
        words, seen = _words(text), set(_words(ctx))
        share[i] = sum(w in seen for w in words) / len(words) if words else 0.0
    return np.column_stack([cos, share])


def history_mean(history: ContextHistory, turns: int, decay: float, *,
                 same_speaker_only: bool = False) -> np.ndarray:
    """(n, dim) decayed mean of up to ``turns`` previous turns' embeddings per segment.

    Turn j + 1 back weighs ``decay ** j``; missing turns (and, with
    ``same_speaker_only``, turns of another speaker) are left out; a zero vector when
    none is left.
    """
    index = history.index[:, :max(turns, 0)]
    mask = index >= 0
    if same_speaker_only:
        mask &= history.same_speaker[:, :index.shape[1]]
    weights = mask * decay ** np.arange(index.shape[1], dtype=np.float64)
    table = history.table  # gathered row by row: no float64 copy of the whole table
    out = np.zeros((len(index), table.shape[1]), dtype=np.float64)
    for j in range(index.shape[1]):
        rows = np.flatnonzero(mask[:, j])
        out[rows] += weights[rows, j, None] * table[index[rows, j]].astype(np.float64)
    total = weights.sum(axis=1)
    np.divide(out, total[:, None], out=out, where=total[:, None] > 0)
    return out


def _context_blocks(batch: SegmentBatch, spec: FeatureSpec,
                    ctx_emb: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(context block, same-speaker block or None) before their weights."""
    history = batch.history
    same = None
    if spec.context_same_weight:
        same = (np.zeros_like(ctx_emb) if history is None else
                history_mean(history, spec.context_turns, spec.context_decay,
                             same_speaker_only=True))
    if spec.context_turns <= 1 or history is None:
        return ctx_emb, same
    return history_mean(history, spec.context_turns, spec.context_decay), same


def _fit_or_none(vectorizer: TfidfVectorizer, corpus: list[str]) -> TfidfVectorizer | None:
    """The fitted vectorizer, or None when the corpus has no terms at all."""
    try:
        return vectorizer.fit(corpus)
    except ValueError as exc:  # "empty vocabulary; perhaps the documents only contain ..."
        if "empty vocabulary" not in str(exc) and "no terms remain" not in str(exc):
            raise
        return None


def _vectorizer(kind: str, min_df: int, max_terms: int = 0) -> TfidfVectorizer:
    limit = max_terms or None
    if kind == "char":
        return TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=min_df,
                               max_features=limit, sublinear_tf=True, lowercase=True,
                               dtype=np.float64)
    return TfidfVectorizer(analyzer="word", ngram_range=(1, 2), min_df=min_df,
                           max_features=limit, sublinear_tf=True, lowercase=True,
                           token_pattern=r"[a-z0-9_']+", dtype=np.float64)


def _context(batch: SegmentBatch) -> tuple[tuple[str, ...], np.ndarray]:
    texts = batch.context_texts if batch.context_texts is not None else ("",) * len(batch)
    if batch.context_embeddings is not None:
        emb = np.asarray(batch.context_embeddings, dtype=np.float64)
    else:
        emb = np.zeros_like(np.asarray(batch.embeddings, dtype=np.float64))
    return texts, emb


class FeatureBuilder:
    """Maps a :class:`SegmentBatch` to the suggester's sparse feature matrix."""

    def __init__(self, spec: FeatureSpec | None = None) -> None:
        self.spec = spec or FeatureSpec()
        self.vectorizers_: dict[str, TfidfVectorizer] = {}
        self.n_embedding_: int | None = None

    def fit(self, batch: SegmentBatch) -> FeatureBuilder:
        """Learn TF-IDF vocabularies on the batch's texts and context texts."""
        spec = self.spec
        self.n_embedding_ = int(np.asarray(batch.embeddings).shape[1])
        ctx_texts, _ = _context(batch)
        corpus = [_with_first_word(t) for t in batch.texts]
        corpus += [_with_first_word(t) for t in ctx_texts if t]
        fitted: dict[str, TfidfVectorizer | None] = {}
        if spec.word_weight or spec.context_word_weight:
            fitted["word"] = _fit_or_none(_vectorizer("word", spec.min_df, spec.max_terms),
                                          corpus)
        if spec.char_weight:
            fitted["char"] = _fit_or_none(_vectorizer("char", 1, spec.max_terms),
                                          list(batch.texts) + [t for t in ctx_texts if t])
        self.vectorizers_ = {k: v for k, v in fitted.items() if v is not None}
        return self

    @property
    def n_features(self) -> int:
        spec, n_emb = self.spec, int(self.n_embedding_ or 0)
        n = n_emb if spec.embedding_weight else 0
        n += n_emb if spec.context_weight else 0
        n += n_emb if spec.context_same_weight else 0
        word = len(self.vectorizers_["word"].vocabulary_) if "word" in self.vectorizers_ else 0
        n += word if spec.word_weight else 0
        n += (len(self.vectorizers_["char"].vocabulary_)
              if spec.char_weight and "char" in self.vectorizers_ else 0)
        n += word if spec.context_word_weight else 0
        n += 2 * N_SURFACE + N_OVERLAP if spec.surface_weight else 0
        return n

    def transform(self, batch: SegmentBatch) -> sp.csr_matrix:
        """One sparse row per segment (the blocks in the order of the module docstring)."""
        if self.n_embedding_ is None:
            raise ValueError("FeatureBuilder.transform called before fit")
        spec = self.spec
        emb = np.asarray(batch.embeddings, dtype=np.float64)
        if emb.ndim != 2 or emb.shape[1] != self.n_embedding_:
            raise ValueError(
                f"embeddings have shape {emb.shape}, expected (n, {self.n_embedding_})")
        ctx_texts, ctx_emb = _context(batch)
        blocks: list[Any] = []
        if spec.embedding_weight:
            blocks.append(sp.csr_matrix(emb * spec.embedding_weight))
        context, same = _context_blocks(batch, spec, ctx_emb)
        if spec.context_weight:
            blocks.append(sp.csr_matrix(context * spec.context_weight))
        if same is not None:
            blocks.append(sp.csr_matrix(same * spec.context_same_weight))
        words = "word" in self.vectorizers_
        if spec.word_weight and words:
            docs = [_with_first_word(t) for t in batch.texts]
            blocks.append(self.vectorizers_["word"].transform(docs) * spec.word_weight)
        if spec.char_weight and "char" in self.vectorizers_:
            blocks.append(self.vectorizers_["char"].transform(list(batch.texts))
                          * spec.char_weight)
        if spec.context_word_weight and words:
            docs = [_with_first_word(t) if t else "" for t in ctx_texts]
            blocks.append(self.vectorizers_["word"].transform(docs) * spec.context_word_weight)
        if spec.surface_weight:
            surf = np.hstack([surface_features(batch.texts), surface_features(ctx_texts),
                              overlap_features(batch.texts, ctx_texts, emb, ctx_emb)])
            blocks.append(sp.csr_matrix(surf * spec.surface_weight))
        if not blocks:
            return sp.csr_matrix((len(batch), 0))
        return sp.hstack(blocks, format="csr", dtype=np.float64)

    def fit_transform(self, batch: SegmentBatch) -> sp.csr_matrix:
        return self.fit(batch).transform(batch)

    # ---- persistence ------------------------------------------------------------------

    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(JSON-safe state, arrays): spec, vocabularies, idf vectors."""
        if self.n_embedding_ is None:
            raise ValueError("FeatureBuilder.get_state called before fit")
        state: dict[str, Any] = {"spec": asdict(self.spec), "n_embedding": self.n_embedding_,
                                 "vocabularies": {}}
        arrays: dict[str, np.ndarray] = {}
        for kind, vec in self.vectorizers_.items():
            vocab = sorted(vec.vocabulary_, key=vec.vocabulary_.__getitem__)
            state["vocabularies"][kind] = vocab
            arrays[f"{kind}_idf"] = np.asarray(vec.idf_, dtype=np.float64)
        return state, arrays

    @classmethod
    def from_state(cls, state: Mapping[str, Any],
                   arrays: Mapping[str, np.ndarray]) -> FeatureBuilder:
        """Rebuild a fitted builder; raises ValueError/KeyError/TypeError on bad input."""
        # Fields added later take the value that reproduces what older models computed.
        spec = FeatureSpec(**{**_BEFORE_FIELDS, **dict(state["spec"])})
        builder = cls(spec)
        builder.n_embedding_ = int(state["n_embedding"])
        for kind, vocab in dict(state["vocabularies"]).items():
            if kind not in ("word", "char"):
                raise ValueError(f"unknown vocabulary {kind!r}")
            idf = np.asarray(arrays[f"{kind}_idf"], dtype=np.float64)
            if idf.shape != (len(vocab),):
                raise ValueError(f"{kind}_idf has shape {idf.shape}, expected ({len(vocab)},)")
            vec = _vectorizer(kind, spec.min_df if kind == "word" else 1)
            vec.vocabulary_ = {str(term): i for i, term in enumerate(vocab)}
            vec.idf_ = idf
            builder.vectorizers_[kind] = vec
        return builder
