"""``python -m isp_nlp`` runs the command line."""

from __future__ import annotations

from .cli import main

main()
