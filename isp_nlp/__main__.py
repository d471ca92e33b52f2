"""``python -m isp_nlp`` runs the command line."""

from __future__ import annotations

from isp_nlp.cli import main

main()
