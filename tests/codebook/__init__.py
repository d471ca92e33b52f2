"""Tests of isp_nlp.codebook: loading, checking, colours."""
