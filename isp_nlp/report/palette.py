"""Colours and patterns of the report's figures: the Okabe–Ito colour-blind-safe palette,
and how each label source is drawn (model-only labels hatched, never solid like a
person's)."""

from __future__ import annotations

#: Okabe & Ito (2008), "Color Universal Design": distinguishable with any colour vision.
OKABE_ITO = {
    "orange": "#E69F00", "sky_blue": "#56B4E9", "bluish_green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7", "black": "#000000",
}
UNKNOWN = "?"
#: The default stage values; ``none`` a mid grey, ``?`` white with a cross-hatch, so the
#: two never look alike (see :data:`UNKNOWN_HATCH`).
STAGE_COLORS = {
    "push": OKABE_ITO["vermillion"],
    "push_pull": OKABE_ITO["sky_blue"],
    "exchange": OKABE_ITO["bluish_green"],
    "none": "#8C8C8C",
    UNKNOWN: "#FFFFFF",
}
UNKNOWN_HATCH = "xx"
#: Further values and series, in turn.
EXTRA_COLORS = [OKABE_ITO[k] for k in ("orange", "reddish_purple", "yellow", "blue",
                                       "black")]
CODER_COLORS = [OKABE_ITO[k] for k in ("blue", "orange", "bluish_green", "reddish_purple",
                                       "vermillion", "sky_blue", "yellow", "black")]

#: Label sources, people first; :data:`HUMAN_SOURCES` are a person's own judgement.
SOURCES = ("human", "consensus", "blind", "assisted", "model")
HUMAN_SOURCES = ("human", "consensus", "blind")
#: How a cell or bar of each source is drawn: solid for people, dotted for a person
#: deciding on a suggestion, hatched for the model alone.
SOURCE_HATCH = {"human": "", "consensus": "", "blind": "", "assisted": "..",
                "model": "////"}


def hatch(source: str) -> str:
    """The hatch pattern of a label source ('' for a person's own label)."""
    return SOURCE_HATCH.get(source, "")
