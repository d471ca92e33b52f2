"""Suggest codes and a value of each single-choice dimension for uncoded segments.

Features, estimators, prototypes, calibration, the trainer, the saved model, evaluation
studies and what to code next.
"""
