"""Tests of isp_nlp.store: the project database, its migrations and its faults."""
