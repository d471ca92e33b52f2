"""Coded-segments CSV files: read them, match their rows to segments, turn them into units."""
