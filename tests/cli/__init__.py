"""Tests of isp_nlp.cli: every command's output, exit status, errors and terminal safety."""
