"""Tests of isp_nlp.project: the project-level entry points the CLI and the demo share."""
