"""isp-nlp: local-first assistant for qualitative coding of interview transcripts."""

from __future__ import annotations

__version__ = "0.3.0"
