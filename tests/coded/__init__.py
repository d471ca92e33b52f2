"""Tests of isp_nlp.coded: coded-segments CSVs, spans, formula-safe cells."""
