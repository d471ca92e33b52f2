"""The provenance policy in records: what each source of a label may be used for."""

from __future__ import annotations

from isp_nlp.records import (
    AGREEMENT_SOURCES,
    CERTIFYING_SOURCES,
    CODER_SOURCES,
    PROVENANCES,
    TRAINING_SOURCES,
    Annotation,
    Segment,
)
from isp_nlp.suggest.training_data import humanly_coded, merge_labels


def test_no_assisted_or_model_label_trains_certifies_or_counts_as_a_coder() -> None:
    for sources in (TRAINING_SOURCES, CERTIFYING_SOURCES, AGREEMENT_SOURCES):
        assert "assisted" not in sources and "model" not in sources
        assert set(sources) <= set(CODER_SOURCES) <= set(PROVENANCES)
    assert "model" not in CODER_SOURCES
    assert "consensus" not in AGREEMENT_SOURCES  # derived from the coders compared
    assert set(AGREEMENT_SOURCES) == {"human", "blind"}
    assert set(TRAINING_SOURCES) < set(CERTIFYING_SOURCES)  # + blind codes of an audit


def test_training_reads_only_training_sources() -> None:
    seg = Segment("s1", "d", 0, 0, "turn", "P1", 0, 5, "Hello")
    anns = [Annotation("s1", source, "code", f"c_{source}", source) for source in PROVENANCES]
    ts = merge_labels([seg], anns)
    assert set(ts.coder_codes[0]) == set(TRAINING_SOURCES)
    assert humanly_coded([a for a in anns if a.source not in TRAINING_SOURCES]) == set()
