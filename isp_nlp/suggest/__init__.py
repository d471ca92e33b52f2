"""Code and stage suggesters trained on embeddings of human-coded segments.

``train_suggester`` (the fitting procedure) returns a ``SuggesterModel``
(the trained model: suggest, uncertainty, save, load).
"""

from __future__ import annotations

from isp_nlp.suggest.bundle import SuggesterModel
from isp_nlp.suggest.estimators import CodeSuggester, StageClassifier
from isp_nlp.suggest.evidence import nearest_exemplars, uncertainty_scores
from isp_nlp.suggest.trainer import TrainParams, library_versions, train_suggester

__all__ = [
    "CodeSuggester",
    "StageClassifier",
    "SuggesterModel",
    "TrainParams",
    "library_versions",
    "nearest_exemplars",
    "train_suggester",
    "uncertainty_scores",
]
