"""Tests of isp_nlp.agreement: coefficients, tables, bootstrap, the agreement command."""
