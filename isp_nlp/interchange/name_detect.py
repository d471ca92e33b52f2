"""Optional detection of people's names (PERSON entities) with a spaCy English pipeline.

spaCy is imported only inside :func:`load_pipeline`; the pipeline (``en_core_web_sm`` by
default) is never a dependency and never downloaded: without it, ``--detect-names``
stops with one line saying how to install it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from isp_nlp.errors import ModelError

DEFAULT_PIPELINE = "en_core_web_sm"
_SOURCE = "https://github.com/explosion/spacy-models/releases"


def load_pipeline(name: str = DEFAULT_PIPELINE) -> Any:
    """The installed spaCy pipeline ``name`` (only its named-entity recogniser is needed)."""
    try:
        import spacy
    except ImportError:
        raise ModelError(
            f"--detect-names needs spaCy and its English pipeline {name}, and spaCy is not "
            "installed; install spaCy, then the pipeline from " + _SOURCE) from None
    try:
        nlp = spacy.load(name)
    except OSError:
        raise ModelError(
            f"--detect-names needs the spaCy English pipeline {name}, which is not installed; "
            f"install it with `python -m spacy download {name}` (from {_SOURCE}) and run "
            "again, or list the names in names.csv instead") from None
    nlp.max_length = 10**8  # whole transcripts; only the named-entity recogniser matters
    return nlp


def detect_person_names(texts: Iterable[str], nlp: Any) -> list[tuple[str, int]]:
    """PERSON entities found in ``texts`` by ``nlp``, with counts, most frequent first.

    Names are kept as found (single spaces); a one-character name is dropped.
    """
    counts: Counter[str] = Counter()
    originals: dict[str, str] = {}
    for doc in nlp.pipe(list(texts)):
        for ent in doc.ents:
            if ent.label_ != "PERSON":
                continue
            name = " ".join(ent.text.split()).strip(" .,;:!?'\"’`")
            if name.endswith(("'s", "’s")):
                name = name[:-2]
            if len(name) < 2:
                continue
            key = name.casefold()
            originals.setdefault(key, name)
            counts[key] += 1
    return sorted(((originals[k], n) for k, n in counts.items()), key=lambda x: (-x[1], x[0]))
