"""Whole flows through several stages: real QDA exports in and out, exact round trips."""
