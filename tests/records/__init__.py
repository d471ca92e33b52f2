"""Tests of isp_nlp.records: the provenance policy."""
