"""Tests of isp_nlp.embed: the embedding cache and the embedders."""
