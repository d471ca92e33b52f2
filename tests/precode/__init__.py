"""Tests of isp_nlp.precode: a new wave pre-coded with a trained model."""
