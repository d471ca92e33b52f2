"""What to code next.

With a model (:func:`balanced_next`): even out the labels coded so far by the model's
predicted labels, and within each label take typical segments among those the model is
least sure of (uncertainty + diversity). Without one (:func:`rank_next`): typical segments
of regions nothing coded covers yet. :func:`propose` chooses among plain data;
:func:`isp_nlp.pipeline.next_to_code` feeds it from a project.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from isp_nlp.embed import l2_normalise
from isp_nlp.errors import IspNlpError
from isp_nlp.records import CODE_DIMENSION, Segment, Suggestion
from isp_nlp.suggest.evidence import uncertainty_scores

MAX_POOL = 20_000  # larger pools are subsampled (seeded) before clustering
MAX_CODED_FIT = 300  # coded rows used to fit the regions (all of them mark coverage)
BALANCE_POOL_FACTOR = 5  # balanced_next clusters the 5 x slots least sure rows per label
#: Share of balanced_next's picks drawn at random; chosen by grouped CV on AnnoMI and
#: checked on its 10-coder transcripts (evaluation/results/tuning.md, annomi.md).
EXPLORE_SHARE = 0.5


@dataclass(frozen=True)
class Pick:
    """One chosen row: its index, combined score, uncertainty (or None), the cosine distance
    to the nearest coded/earlier-chosen row, and the size of the region it represents."""

    index: int
    score: float
    uncertainty: float | None
    distance: float
    region_size: int = 1
    predicted: int | None = None  # balanced_next: column of the predicted label
    explore: bool = False  # balanced_next: drawn at random to keep the natural label mix


def _unit(x: np.ndarray) -> np.ndarray:
    return l2_normalise(x, np.float64)


def _nearest_distance(X: np.ndarray, C: np.ndarray) -> np.ndarray:
    dist = np.full(len(X), 2.0)
    for start in range(0, len(C), 2048):
        dist = np.minimum(dist, 1.0 - (X @ C[start:start + 2048].T).max(axis=1))
    return np.clip(dist, 0.0, 2.0)


def rank_next(embeddings: np.ndarray, uncertainty: Sequence[float] | np.ndarray | None,
              n: int, already_coded_embeddings: np.ndarray | None = None, *,
              seed: int = 0) -> list[Pick]:
    """Choose up to ``n`` rows, best first.

    Diversity: k-means with (coded + n) clusters over the coded and candidate rows; the
    regions holding no coded row are the uncovered ones, and each gives its most typical
    row (nearest its centre), so picks are spread out yet not outliers. Uncertainty
    (higher = less sure, e.g. 1 - max probability) orders the regions: size x mean
    uncertainty; without it, size alone. Leftover slots go to the rows farthest from
    everything coded or chosen (weighted by uncertainty).
    """
    from sklearn.cluster import KMeans

    X = _unit(embeddings)
    m = X.shape[0]
    n = max(0, min(int(n), m))
    if n == 0:
        return []
    u = None
    if uncertainty is not None:
        u = np.nan_to_num(np.asarray(uncertainty, dtype=np.float64), nan=1.0)
        if u.shape != (m,):
            raise ValueError(f"uncertainty has shape {u.shape}, expected ({m},)")
    rng = np.random.default_rng(seed)
    cand = np.arange(m) if m <= MAX_POOL else np.sort(rng.choice(m, MAX_POOL, replace=False))
    C = (np.zeros((0, X.shape[1])) if already_coded_embeddings is None
         else _unit(already_coded_embeddings))
    # many coded rows: fit on a sample of them (bounded cost), but let all mark coverage
    C_fit = C if len(C) <= MAX_CODED_FIT else C[rng.choice(len(C), MAX_CODED_FIT, replace=False)]
    data = np.vstack([C_fit, X[cand]])
    k = min(len(C_fit) + n, len(data))
    km = KMeans(n_clusters=k, n_init=1, max_iter=100, random_state=seed).fit(data)
    labels = km.labels_[len(C_fit):]
    coded_labels = km.predict(C) if len(C) else np.zeros(0, dtype=int)
    covered = set(coded_labels.tolist())
    sizes = np.bincount(np.concatenate([coded_labels, labels]), minlength=k)
    centres = _unit(km.cluster_centers_)
    regions = []
    for c in range(k):
        members = np.flatnonzero(labels == c)
        if c in covered or not len(members):
            continue
        weight = 1.0 if u is None else float(u[cand[members]].mean()) + 1e-6
        regions.append((sizes[c] * weight, c, members))
    regions.sort(key=lambda r: -r[0])
    chosen: list[int] = []
    scores: dict[int, tuple[float, int]] = {}
    top = regions[0][0] if regions else 1.0
    for priority, c, members in regions[:n]:
        best = int(cand[members[np.argmax(X[cand[members]] @ centres[c])]])
        chosen.append(best)
        scores[best] = (priority / top, int(sizes[c]))
    if len(chosen) < n:  # more slots than uncovered regions: farthest rows first
        rest = np.setdiff1d(np.arange(m), chosen)
        far = _nearest_distance(X[rest], np.vstack([C, X[chosen]]))
        spread = np.ones(len(rest)) if u is None else u[rest] + 1e-6
        for j in np.argsort(-(far * spread), kind="stable")[: n - len(chosen)]:
            chosen.append(int(rest[j]))
            scores[int(rest[j])] = (float(far[j] * spread[j]) / 2.0, 1)
    picks = []
    for i, row in enumerate(chosen):
        before = np.vstack([C, X[chosen[:i]]])
        dist = float(_nearest_distance(X[[row]], before)[0]) if len(before) else 2.0
        score, size = scores[row]
        picks.append(Pick(row, float(score), None if u is None else float(u[row]), dist, size))
    return picks


def select_next(embeddings: np.ndarray, uncertainty: Sequence[float] | np.ndarray | None,
                n: int, already_coded_embeddings: np.ndarray | None = None, *,
                seed: int = 0) -> list[int]:
    """Indices of the ``n`` rows to code next (see :func:`rank_next`)."""
    return [p.index for p in rank_next(embeddings, uncertainty, n, already_coded_embeddings,
                                       seed=seed)]


def _allocate(n: int, have: np.ndarray) -> np.ndarray:
    """Give ``n`` slots one by one to the label with the fewest coded + allocated rows."""
    alloc = np.zeros(len(have), dtype=int)
    for _ in range(n):
        j = int(np.argmin(have + alloc))
        alloc[j] += 1
    return alloc


def _typical_of(X: np.ndarray, rows: np.ndarray, m: int, seed: int) -> list[int]:
    """``m`` rows spread over ``rows``: the row nearest each k-means centre."""
    from sklearn.cluster import KMeans

    if len(rows) <= m:
        return [int(r) for r in rows]
    km = KMeans(n_clusters=m, n_init=1, max_iter=100, random_state=seed).fit(X[rows])
    centres = _unit(km.cluster_centers_)
    out = []
    for c in range(m):
        members = rows[km.labels_ == c]
        if len(members):
            out.append(int(members[np.argmax(X[members] @ centres[c])]))
    return out


def balanced_next(embeddings: np.ndarray, proba: np.ndarray, coded_counts: Sequence[int],
                  n: int, *, seed: int = 0, pool_factor: int = BALANCE_POOL_FACTOR,
                  explore: float = EXPLORE_SHARE) -> list[Pick]:
    """Choose up to ``n`` rows given the model's class probabilities (columns = labels).

    Slots go to predicted labels so that the coded counts (``coded_counts``, per label)
    become as even as possible; the rarest label first. Within a label, the
    ``pool_factor`` x slots rows with the smallest margin between the two most probable
    labels are clustered and the row nearest each centre is taken, so picks are both
    uncertain and spread out. A share ``explore`` of the slots is instead drawn at random
    (seeded), so the coded set keeps the natural mix of labels too. Measured on AnnoMI in
    evaluation/results/annomi.md.
    """
    if not 0.0 <= explore <= 1.0:
        raise ValueError(f"explore is {explore}, expected a share between 0 and 1")
    X = _unit(embeddings)
    P = np.asarray(proba, dtype=np.float64)
    m = X.shape[0]
    if P.shape[0] != m or P.ndim != 2 or P.shape[1] < 1:
        raise ValueError(f"proba has shape {P.shape}, expected ({m}, n_labels)")
    have = np.asarray(coded_counts, dtype=np.float64)
    if have.shape != (P.shape[1],):
        raise ValueError(f"coded_counts has {have.shape[0]} entries, expected {P.shape[1]}")
    n = max(0, min(int(n), m))
    if n == 0:
        return []
    pred = P.argmax(axis=1)
    top2 = np.sort(P, axis=1)[:, -2:] if P.shape[1] > 1 else np.hstack([np.zeros((m, 1)), P])
    margin = top2[:, 1] - top2[:, 0]
    n_random = int(round(n * explore))
    alloc = _allocate(n - n_random, have)
    chosen: list[int] = []
    for j in np.argsort(have, kind="stable"):
        if not alloc[j]:
            continue
        rows = np.flatnonzero(pred == j)
        rows = rows[np.argsort(margin[rows], kind="stable")][: pool_factor * alloc[j]]
        chosen += _typical_of(X, rows, int(alloc[j]), seed)
    if len(chosen) < n - n_random:  # labels predicted too rarely: least sure of the rest
        rest = np.setdiff1d(np.arange(m), chosen)
        short = n - n_random - len(chosen)
        chosen += [int(r) for r in rest[np.argsort(margin[rest], kind="stable")][:short]]
    balanced = len(chosen)
    rest = np.setdiff1d(np.arange(m), chosen)
    rng = np.random.default_rng(seed)
    chosen += [int(r) for r in rng.choice(rest, size=n - balanced, replace=False)]
    picks = []
    for i, row in enumerate(chosen):
        before = X[chosen[:i]]
        dist = float(_nearest_distance(X[[row]], before)[0]) if i else 2.0
        picks.append(Pick(row, float(1.0 - margin[row]), float(1.0 - margin[row]), dist,
                          int(np.sum(pred == pred[row])), int(pred[row]), i >= balanced))
    return picks


def segment_uncertainty(suggestions: Sequence[Suggestion],
                        code_threshold: float = 0.5) -> dict[str, float]:
    """Per segment, :func:`~isp_nlp.suggest.evidence.uncertainty_scores` of its stored
    suggestions (codes at ``code_threshold``, each dimension by its top probability)."""
    codes: dict[str, list[float]] = {}
    values: dict[str, dict[str, list[float]]] = {}
    for s in suggestions:
        codes.setdefault(s.segment_id, [])
        if s.dimension == CODE_DIMENSION:
            codes[s.segment_id].append(float(s.probability))
        else:
            values.setdefault(s.segment_id, {}).setdefault(s.dimension, []).append(
                float(s.probability))
    out: dict[str, float] = {}
    for sid, c in codes.items():
        blocks = [np.array([v]) for v in values.get(sid, {}).values()]
        out[sid] = float(uncertainty_scores(np.array([c]) if c else None, blocks or None,
                                            code_threshold)[0])
    return out


def _reason(pick: Pick, label: str | None = None) -> str:
    if pick.explore:
        return f"random draw, so the coded set keeps the natural mix (predicted {label})"
    if label is not None:
        return (f"predicted {label}, among the codes coded least so far; model uncertainty "
                f"{pick.uncertainty:.2f}")
    region = (f"typical of {pick.region_size} similar uncoded segments" if pick.region_size > 1
              else "unlike anything coded or chosen")
    if pick.uncertainty is not None:
        return f"{region}; model uncertainty {pick.uncertainty:.2f}"
    return f"{region} (no model suggestions yet)"


def code_probabilities(suggestions: Sequence[Any], ids: Sequence[str],
                        labels: Sequence[str]) -> np.ndarray | None:
    """(segments, codes) probabilities from stored code suggestions; None when any is missing."""
    col = {c: j for j, c in enumerate(labels)}
    row = {s: i for i, s in enumerate(ids)}
    P = np.full((len(ids), len(labels)), np.nan)
    for s in suggestions:
        if s.dimension == "code" and s.segment_id in row and s.label in col:
            P[row[s.segment_id], col[s.label]] = float(s.probability)
    return None if np.isnan(P).any() else P


#: Segments of this many words or fewer are backchannels ("Mm-hmm.", "Yeah, right."):
#: coding them teaches the suggester little, so they are proposed only when too few
#: longer segments are left.
BACKCHANNEL_WORDS = 3


def is_backchannel(text: str) -> bool:
    """True for a turn of at most :data:`BACKCHANNEL_WORDS` words."""
    return len(text.split()) <= BACKCHANNEL_WORDS


def worth_coding(todo: Sequence[Segment], n: int) -> list[Segment]:
    """``todo`` without its backchannels (:func:`is_backchannel`), unless fewer than ``n``
    segments would be left."""
    longer = [s for s in todo if not is_backchannel(s.text)]
    return longer if len(longer) >= n else list(todo)


def propose(todo: Sequence[Segment], X: np.ndarray, n: int, *, seed: int = 0,
            proba: np.ndarray | None = None, code_labels: Sequence[str] = (),
            coded_counts: Sequence[int] = (), coded_embeddings: np.ndarray | None = None,
            stored: Sequence[Suggestion] = (),
            code_threshold: float = 0.5) -> list[dict[str, Any]]:
    """The ``n`` segments of ``todo`` (embedded as ``X``) whose human codes would help the
    suggester most.

    With code probabilities for every segment of ``todo`` (``proba``, columns
    ``code_labels``; see :func:`code_probabilities`): :func:`balanced_next`, counting each
    code's human-coded segments (``coded_counts``). Otherwise :func:`rank_next`: diversity
    over ``X`` away from ``coded_embeddings``, ordered by the uncertainty of the
    ``stored`` suggestions if any.
    """
    if n < 1:
        raise IspNlpError(f"--n is {n}; expected 1 or more segments to propose.")
    labels = list(code_labels)
    P = proba
    if P is not None:
        picks = balanced_next(X, P, list(coded_counts), n, seed=seed)
        reasons = [_reason(p, None if p.predicted is None else labels[p.predicted])
                   for p in picks]
    else:
        uncertainty = None
        per_seg = segment_uncertainty(stored, code_threshold)
        if per_seg:
            # segments without a stored suggestion count as fully uncertain
            uncertainty = np.array([per_seg.get(s.id, 1.0) for s in todo])
        picks = rank_next(X, uncertainty, n, coded_embeddings, seed=seed)
        reasons = [_reason(p) for p in picks]
    out = []
    for p, reason in zip(picks, reasons, strict=True):
        seg = todo[p.index]
        out.append({"document": seg.document, "segment_index": seg.index,
                    "segment_id": seg.id, "speaker": seg.speaker or "",
                    "text": seg.text, "score": round(p.score, 4),
                    "uncertainty": None if p.uncertainty is None else round(p.uncertainty, 4),
                    "reason": reason})
    return out
