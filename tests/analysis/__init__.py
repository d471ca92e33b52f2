"""Tests of isp_nlp.analysis: disagreements, consensus, pathways."""
