"""Label priors of the uncoded pool by EM (Saerens, Latinne & Decaestecker 2002); measured
by evaluation/levers.py, not shipped (evaluation/results/levers.md).

A single-label model trained on balanced seeds believes every label is equally common.
A project's uncoded segments are always at hand when it suggests, and their label mix
can be estimated without labels: alternate between re-weighting each segment's
probabilities by new/old prior and re-estimating the new prior as the mean adjusted
probability. ``strength`` < 1 moves only part of the way (a damped shift, in log space).
"""

from __future__ import annotations

import numpy as np


def adjust_priors(proba: np.ndarray, train_priors: np.ndarray, *, strength: float = 1.0,
                  max_iter: int = 100, tol: float = 1e-6,
                  floor: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """(adjusted probabilities, estimated pool priors) of ``proba`` (n, labels).

    ``train_priors`` are the priors the model was trained under (uniform for balanced
    class weights). Rows of the result sum to 1; an empty pool returns its input and
    ``train_priors``.
    """
    proba = np.asarray(proba, dtype=np.float64)
    train = np.asarray(train_priors, dtype=np.float64)
    if proba.ndim != 2 or train.shape != (proba.shape[1],):
        raise ValueError(f"proba has shape {proba.shape} and train_priors {train.shape}; "
                         "expected (n, labels) and (labels,)")
    if not np.isfinite(proba).all() or (proba < 0).any() or (train <= 0).any():
        raise ValueError("proba must be finite and >= 0, train_priors > 0")
    train = train / train.sum()
    if len(proba) == 0:
        return proba.copy(), train
    base = np.maximum(proba, floor)
    base /= base.sum(axis=1, keepdims=True)
    priors = train.copy()
    adjusted = base
    for _ in range(max_iter):
        adjusted = _reweight(base, (priors / train) ** strength)
        new = np.maximum(adjusted.mean(axis=0), floor)
        new /= new.sum()
        done = float(np.abs(new - priors).max()) < tol
        priors = new
        if done:
            break
    return _reweight(base, (priors / train) ** strength), priors


def _reweight(proba: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    out = proba * ratio
    return out / out.sum(axis=1, keepdims=True)
