"""Tests of isp_nlp.report: the HTML report, its plots, the report in a browser."""
