"""Tests of isp_nlp.ingest: reading transcripts, segmentation."""
