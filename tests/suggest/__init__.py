"""Tests of isp_nlp.suggest: training, calibration, certification, evaluation, trust."""
