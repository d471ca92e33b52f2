"""Tests of the evaluation/ scripts (the AnnoMI study)."""
