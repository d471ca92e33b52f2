"""Tests of isp_nlp.review: the queue, the session and the terminal loop."""
