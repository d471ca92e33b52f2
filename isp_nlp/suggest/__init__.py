"""Suggest codes and a stage for uncoded segments.

Features, estimators, prototypes, calibration, the trainer, the saved model, evaluation
studies and what to code next.
"""
