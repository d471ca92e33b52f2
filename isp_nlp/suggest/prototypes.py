"""Zero-shot code suggestions from the codebook: definitions and examples as prototypes.

A code nobody has applied yet cannot train a classifier, but its codebook entry
describes it. :func:`prototype_texts` turns an entry into texts (one
"name: definition (include)" text plus each example); their embeddings are the
code's *prototypes*. A segment's score for a code is its highest cosine similarity
to that code's prototypes, and a single Platt map ``p = sigmoid(a * sim + b)``,
learned on the codes that do have seed positives and negatives (pooled), turns the
score into a probability. Pure numpy at prediction time; scikit-learn only to fit.

That map is fitted on balanced classes, so on its own it suggests a zero-shot code on
far more segments than coders apply a code (evaluation/results/tuning.md). Each
zero-shot code therefore also has a *floor*: the probability above which lie as many
seed segments as carry a typical seeded code (the mean share over the seeded codes).
A zero-shot code is suggested where its probability reaches both the model's code
threshold and its floor.

The same class serves a single-label model (a dimension such as the stage, or one label
per segment in ``isp-nlp evaluate``): :meth:`Prototypes.class_proba` is a softmax over
the classes of ``LABEL_TEMPERATURE`` times each max cosine, the codebook prior, which takes a share
``TrainParams.prototype_weight`` of the model's probability. A codebook whose texts say
nothing about the labels would only add noise, so :func:`choose_prior_weight` keeps that
share only when the prior's probabilities agree with the seeds better than chance. The
prior is not fitted on the seeds, so that check is out of sample and needs no extra fits
(evaluation/results/codebook_robustness.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.special import expit, softmax

from isp_nlp.embed import l2_normalise
from isp_nlp.errors import ModelError
from isp_nlp.records import Code

#: Map used when no code has both seed positives and negatives (nothing to learn from):
#: 50 % at cosine 0.5, about 12 % at 0.4 and 88 % at 0.6.
FALLBACK_A = 20.0
FALLBACK_B = -10.0
LEARNED, FALLBACK = "learned", "fallback"
#: Softmax temperature over a single-label model's max cosine similarities
#: (:meth:`Prototypes.class_proba`).
LABEL_TEMPERATURE = 10.0


def prototype_texts(code: Code) -> list[str]:
    """Texts describing ``code``: "name: definition (include)" plus each example.

    Empty parts are skipped; an entry with only a name gives ``[name]``.
    """
    name = code.name.strip() or code.id
    head = name
    definition, include = code.definition.strip(), code.include.strip()
    if definition:
        head = f"{head}: {definition}"
    if include:
        head = f"{head} ({include})"
    examples = [e.strip() for e in code.examples if e and e.strip()]
    return [head, *examples]


def embed_prototypes(
    codes: Sequence[Code], embed: Callable[[list[str]], np.ndarray]
) -> dict[str, np.ndarray]:
    """``{code id: (m, d) embeddings of its prototype texts}``, embedding all texts in one call."""
    per_code = [(c.id, prototype_texts(c)) for c in codes]
    texts = [t for _, ts in per_code for t in ts]
    if not texts:
        return {}
    vectors = np.asarray(embed(texts), dtype=np.float32)
    out: dict[str, np.ndarray] = {}
    start = 0
    for code_id, ts in per_code:
        out[code_id] = vectors[start:start + len(ts)]
        start += len(ts)
    return out


@dataclass(frozen=True, eq=False)
class Prototypes:
    """Prototype embeddings per label (code or value) and the similarity → probability map.

    ``vectors[k]`` is a unit-length prototype of code ``code_labels[rows[k]]``;
    ``p = sigmoid(a * max_cosine + b)``; ``source`` is ``"learned"`` or ``"fallback"``
    (no code had both seed positives and negatives); ``n_calibration_codes`` is how many
    codes the map was learned on. ``floors[j]`` is the lowest probability at which code
    ``j`` is suggested zero-shot (NaN: no floor); None when no code had both seed
    positives and negatives to measure a typical share on.
    """

    code_labels: tuple[str, ...]
    vectors: np.ndarray
    rows: np.ndarray
    a: float
    b: float
    source: str = FALLBACK
    n_calibration_codes: int = 0
    floors: np.ndarray | None = None

    def __post_init__(self) -> None:
        vectors = np.asarray(self.vectors, dtype=np.float32)
        rows = np.asarray(self.rows, dtype=np.int64)
        if vectors.ndim != 2 or rows.shape != (vectors.shape[0],):
            raise ValueError(f"prototype vectors {vectors.shape} and rows {rows.shape} disagree")
        if rows.size and (rows.min() < 0 or rows.max() >= len(self.code_labels)):
            raise ValueError("prototype rows point outside code_labels")
        if not np.isfinite(vectors).all() or not (np.isfinite(self.a) and np.isfinite(self.b)):
            raise ValueError("prototype vectors or the Platt map are not finite")
        if self.source not in (LEARNED, FALLBACK):
            raise ValueError(f"prototype map source {self.source!r} is not learned/fallback")
        if self.floors is not None:
            floors = np.asarray(self.floors, dtype=np.float64)
            if floors.shape != (len(self.code_labels),) or (floors[~np.isnan(floors)] < 0).any():
                raise ValueError(f"prototype floors {floors.shape} do not fit the code labels")
            object.__setattr__(self, "floors", floors)
        object.__setattr__(self, "code_labels", tuple(str(c) for c in self.code_labels))
        object.__setattr__(self, "vectors", l2_normalise(vectors))
        object.__setattr__(self, "rows", rows)
        object.__setattr__(self, "a", float(self.a))
        object.__setattr__(self, "b", float(self.b))

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def has_prototypes(self) -> np.ndarray:
        """(n_codes,) bool: which codes have at least one prototype."""
        mask = np.zeros(len(self.code_labels), dtype=bool)
        mask[self.rows] = True
        return mask

    def scores(self, X: np.ndarray) -> np.ndarray:
        """(n, n_codes) max cosine similarity to each code's prototypes (-inf: none)."""
        X = l2_normalise(np.atleast_2d(X))
        if X.shape[1] != self.dim:
            raise ValueError(f"embeddings have {X.shape[1]} dims, prototypes {self.dim}")
        out = np.full((X.shape[0], len(self.code_labels)), -np.inf, dtype=np.float64)
        if self.rows.size == 0 or X.shape[0] == 0:
            return out
        sims = (X @ self.vectors.T).astype(np.float64)
        sims[np.isnan(sims)] = -np.inf  # a NaN embedding matches nothing
        for j in np.unique(self.rows):
            out[:, j] = sims[:, self.rows == j].max(axis=1)
        return out

    def class_proba(self, X: np.ndarray, classes: Sequence[str]) -> np.ndarray:
        """(n, len(classes)) codebook prior of a single-label model: a softmax over
        ``classes`` of ``LABEL_TEMPERATURE`` x max cosine (every class needs prototypes)."""
        col = {c: j for j, c in enumerate(self.code_labels)}
        S = self.scores(X)[:, [col[str(c)] for c in classes]]
        return softmax(np.where(np.isneginf(S), -1.0, S) * LABEL_TEMPERATURE, axis=1)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(n, n_codes) probabilities; a code without prototypes gets 0."""
        s = self.scores(X)
        finite = np.isfinite(s)
        p = np.zeros_like(s)
        p[finite] = expit(self.a * s[finite] + self.b)
        return p

    def zero_shot_mask(self, fitted_mask: np.ndarray | None) -> np.ndarray:
        """Codes with prototypes that the code estimator did not fit (None: no estimator)."""
        n = len(self.code_labels)
        unfitted = (np.ones(n, dtype=bool) if fitted_mask is None
                    else ~np.asarray(fitted_mask, dtype=bool))
        return unfitted & self.has_prototypes

    def fill_unfitted(
        self, X: np.ndarray, proba: np.ndarray | None, fitted_mask: np.ndarray | None
    ) -> np.ndarray | None:
        """``proba`` with the zero-shot codes' columns replaced by prototype probabilities.

        ``proba`` None (no code estimator) counts as all zeros; returns None only when
        there is neither an estimator nor a zero-shot code.
        """
        mask = self.zero_shot_mask(fitted_mask)
        if not mask.any():
            return proba
        out = (np.zeros((X.shape[0], len(self.code_labels))) if proba is None
               else np.array(proba, dtype=np.float64, copy=True))
        out[:, mask] = self.predict_proba(X)[:, mask]
        return out

    def thresholds(self, code_threshold: float, fitted_mask: np.ndarray | None) -> np.ndarray:
        """(n_codes,) probability at which each code is suggested: ``code_threshold``,
        raised to the floor for zero-shot codes that have one."""
        out = np.full(len(self.code_labels), float(code_threshold))
        if self.floors is not None:
            zero_shot = self.zero_shot_mask(fitted_mask) & ~np.isnan(self.floors)
            out[zero_shot] = np.maximum(out[zero_shot], self.floors[zero_shot])
        return out

    # ---- persistence (JSON config + plain arrays) ------------------------------------

    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        config = {"code_labels": list(self.code_labels), "a": self.a, "b": self.b,
                  "source": self.source, "n_calibration_codes": int(self.n_calibration_codes)}
        arrays = {"vectors": self.vectors, "rows": self.rows}
        if self.floors is not None:  # absent in older models, whose ids stay the same
            arrays["floors"] = self.floors
        return config, arrays

    @classmethod
    def from_state(
        cls, config: Mapping[str, Any], arrays: Mapping[str, np.ndarray]
    ) -> Prototypes:
        """Rebuild from :meth:`get_state`; raises KeyError/ValueError on bad input."""
        return cls(
            code_labels=tuple(str(c) for c in config["code_labels"]),
            vectors=np.asarray(arrays["vectors"], dtype=np.float32),
            rows=np.asarray(arrays["rows"], dtype=np.int64),
            a=float(config["a"]), b=float(config["b"]), source=str(config["source"]),
            n_calibration_codes=int(config["n_calibration_codes"]),
            floors=(None if "floors" not in arrays
                    else np.asarray(arrays["floors"], dtype=np.float64)),
        )


def _stack(
    code_labels: Sequence[str], prototype_embeddings: Mapping[str, np.ndarray], dim: int | None
) -> tuple[np.ndarray, np.ndarray]:
    index = {c: j for j, c in enumerate(code_labels)}
    blocks, rows = [], []
    for code, emb in prototype_embeddings.items():
        if code not in index:
            raise ModelError(
                f"Prototype embeddings were given for code {code!r}, which is not among the "
                f"model's codes {list(code_labels)}; fix the caller to pass only those codes."
            )
        emb = np.asarray(emb, dtype=np.float32)
        if emb.ndim == 1:
            emb = emb[None, :]
        if emb.ndim != 2 or (dim is not None and emb.shape[1] != dim) or \
                not np.isfinite(emb).all():
            raise ModelError(
                f"Prototype embeddings of code {code!r} have shape {emb.shape} (or non-finite "
                f"values); expected finite (m, {dim}) vectors from the segments' embedder; "
                "fix it by embedding the codebook texts with that embedder."
            )
        dim = emb.shape[1] if dim is None else dim
        blocks.append(emb)
        rows.extend([index[code]] * emb.shape[0])
    if not blocks:
        return np.zeros((0, dim or 0), dtype=np.float32), np.zeros(0, dtype=np.int64)
    return np.vstack(blocks), np.asarray(rows, dtype=np.int64)


def stack_prototypes(labels: Sequence[str], prototype_embeddings: Mapping[str, np.ndarray],
                     dim: int | None = None) -> Prototypes:
    """Prototypes of a single-label model's ``labels`` (no map to learn: the fallback)."""
    vectors, rows = _stack(labels, prototype_embeddings, dim)
    return Prototypes(tuple(labels), vectors, rows, FALLBACK_A, FALLBACK_B)


def fit_prototypes(
    code_labels: Sequence[str],
    prototype_embeddings: Mapping[str, np.ndarray],
    X_seed: np.ndarray,
    Y_seed: np.ndarray,
) -> Prototypes:
    """Prototypes for ``code_labels`` plus a Platt map learned on the seed segments.

    The map is one balanced logistic regression on the pooled (max cosine similarity,
    has-the-code) pairs of every code with prototypes and both seed positives and
    negatives; with no such code it is the fallback (50 % at cosine 0.5), and likewise
    when the learned slope is not positive (similarity did not predict the codes).
    Codes with prototypes and no seed positive get a floor (see the module docstring).
    """
    from sklearn.linear_model import LogisticRegression

    X_seed = np.asarray(X_seed, dtype=np.float32)
    dim = X_seed.shape[1] if X_seed.ndim == 2 else None
    vectors, rows = _stack(code_labels, prototype_embeddings, dim)
    base = Prototypes(tuple(code_labels), vectors, rows, FALLBACK_A, FALLBACK_B)
    Y = np.asarray(Y_seed)
    if X_seed.ndim != 2 or Y.shape != (X_seed.shape[0], len(code_labels)):
        raise ModelError(
            f"Prototype calibration got embeddings {X_seed.shape} and codes {Y.shape}; expected "
            f"(n, d) and (n, {len(code_labels)}); fix the caller."
        )
    if X_seed.shape[0] == 0:
        return base
    S = base.scores(X_seed)
    usable = [j for j in range(len(code_labels))
              if base.has_prototypes[j] and Y[:, j].min() != Y[:, j].max()]
    fitted = base
    if usable:
        feature = S[:, usable].T.reshape(-1, 1)
        target = (Y[:, usable].T.reshape(-1) > 0).astype(int)
        # C large: the 1-D map has two parameters and thousands of pairs; do not shrink it.
        lr = LogisticRegression(C=100.0, class_weight="balanced").fit(feature, target)
        a, b = float(lr.coef_[0, 0]), float(lr.intercept_[0])
        if a > 0:
            fitted = Prototypes(tuple(code_labels), vectors, rows, a, b, LEARNED,
                                    len(usable))
    return replace(fitted, floors=_floors(fitted, X_seed, Y))


def _floors(protos: Prototypes, X_seed: np.ndarray, Y: np.ndarray) -> np.ndarray | None:
    """Per code with prototypes and no seed positive: the probability reached by a typical
    seeded code's share of the seed segments (None without a seeded code to measure)."""
    seeded = [j for j in range(Y.shape[1]) if Y[:, j].min() != Y[:, j].max()]
    if not seeded:
        return None
    share = float(np.mean([np.mean(Y[:, j] > 0) for j in seeded]))
    P = protos.predict_proba(X_seed)
    floors = np.full(Y.shape[1], np.nan)
    for j in np.flatnonzero(protos.has_prototypes & (Y.max(axis=0) <= 0)):
        floors[j] = float(np.quantile(P[:, j], 1.0 - share))
    return floors





def prior_skill(prior: np.ndarray, y_index: np.ndarray) -> float:
    """Cohen's kappa of the prior with the seeds' labels, on its probabilities rather than
    its top label (``prior``: rows = seeds, columns = classes; ``y_index``: each seed's
    column): observed = the mean probability it gives the seed's label, expected = the
    same for a label drawn at the seeds' label shares. 0 = no better than chance; less
    noisy on a few dozen seeds than the kappa of the top label."""
    Q = np.asarray(prior, dtype=np.float64)
    y = np.asarray(y_index, dtype=np.int64)
    if Q.ndim != 2 or y.shape != (Q.shape[0],) or not len(y):
        raise ValueError(f"prior {Q.shape} and labels {y.shape} disagree")
    shares = np.bincount(y, minlength=Q.shape[1]) / len(y)
    observed = float(Q[np.arange(len(y)), y].mean())
    expected = float((Q @ shares).mean())
    return 0.0 if expected >= 1 else (observed - expected) / (1 - expected)


def choose_prior_weight(prior: np.ndarray, y_index: np.ndarray,
                        weight: float) -> tuple[float, float]:
    """(share, skill): ``weight`` when the codebook alone agrees with the seeds better than
    chance (:func:`prior_skill` > 0), else 0."""
    skill = prior_skill(prior, y_index)
    return (float(weight) if skill > 0 else 0.0), skill
