"""Analyses over coded data: disagreements, consensus and stage pathways."""
