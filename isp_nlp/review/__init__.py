"""Triage of model suggestions: the queue, the session logic and the terminal UI."""
