"""Tests of isp_nlp.interchange: REFI-QDA, excerpt sheets, pseudonymisation, offsets."""
