"""Audit samples: pure drawing logic and the project's draw.

An audit is a seeded, uniformly random sample of the codable segments no person has
coded yet (no annotation from a coder source, see :data:`~isp_nlp.records.CODER_SOURCES`),
drawn over *all* of them — where the model suggested codes and where it abstained or
suggested none — so that codes given blind on it (:mod:`isp_nlp.review.blind`) measure
the model (and the coders) without the selection bias of reviewing suggestions.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from isp_nlp.errors import IspNlpError
from isp_nlp.store.database import Store


def allocate(sizes: Mapping[str, int], n: int) -> dict[str, int]:
    """Proportional allocation of ``n`` draws over strata of ``sizes`` (largest remainder).

    Each stratum first gets the whole part of its exact share ``n * size / total``; the
    draws left over go one each to the strata with the largest fractional parts (ties to
    the earlier name), so the shares sum to exactly ``n`` and none exceeds its size.
    """
    total = sum(sizes.values())
    if n < 0 or n > total:
        raise ValueError(f"cannot allocate {n} draws over {total} units")
    if total == 0:
        return {name: 0 for name in sizes}
    shares = {name: n * size // total for name, size in sizes.items()}
    remainders = sorted(sizes, key=lambda name: (-(n * sizes[name] % total), name))
    for name in remainders[: n - sum(shares.values())]:
        shares[name] += 1
    return shares


def draw_sample(strata: Mapping[str, Sequence[str]], n: int, seed: int) -> list[str]:
    """A stratified uniform random sample of ``n`` ids from ``strata`` (name → ids).

    Each stratum's share is :func:`allocate`'s; within a stratum the ids are a simple
    random sample; the drawn ids are then shuffled together, so a coder does not meet
    them document by document. The same ``strata``, ``n`` and ``seed`` give the same
    list in the same order.
    """
    rng = random.Random(seed)
    shares = allocate({name: len(ids) for name, ids in strata.items()}, n)
    drawn: list[str] = []
    for name in sorted(strata):
        drawn += rng.sample(list(strata[name]), shares[name])
    rng.shuffle(drawn)
    return drawn


def uncoded_segments(store: Store, documents: Sequence[str] = ()) -> dict[str, list[str]]:
    """Document → ids of its codable segments no person has coded, in segment order."""
    coded = store.coded_segment_ids()
    wanted = set(documents)
    out: dict[str, list[str]] = {}
    for seg in store.segments(codable_only=True):
        if wanted and seg.document not in wanted:
            continue
        out.setdefault(seg.document, [])
        if seg.id not in coded:
            out[seg.document].append(seg.id)
    return out


@dataclass(frozen=True)
class Audit:
    """A drawn audit sample as recorded."""

    id: int
    seed: int
    n: int
    documents: tuple[str, ...]
    segment_ids: tuple[str, ...]


def draw_audit(store: Store, n: int, *, documents: Sequence[str] = (),
               seed: int | None = None) -> Audit:
    """Draw and record an audit of ``n`` uncoded codable segments of ``documents`` (all
    documents if empty); a seed is chosen and recorded when none is given."""
    names = store.document_names()
    chosen: list[str] = []
    for doc in documents:
        if doc not in names:
            raise IspNlpError(f"The project has no document {doc!r}; name one that "
                              "`isp-nlp status` lists.")
        if names[doc] not in chosen:
            chosen.append(names[doc])
    strata = uncoded_segments(store, chosen)
    available = sum(len(ids) for ids in strata.values())
    if n < 1 or n > available:
        raise IspNlpError(f"Cannot draw {n} segments: {available} codable segments are "
                          "uncoded; ask for between 1 and that many.")
    if seed is None:
        seed = secrets.randbelow(2**31)
    ids = draw_sample(strata, n, seed)
    audit_id = store.save_audit(seed=seed, n=n, documents=chosen, segment_ids=ids)
    return Audit(audit_id, seed, n, tuple(chosen), tuple(ids))
