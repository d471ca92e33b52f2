"""The wave certificate in words: the sentences `certify`, the trust statement (`status`,
`review`, `precode`) and the report use (:mod:`isp_nlp.suggest.wave_certify` computes it).

Kept apart from the computation so that showing a statement imports no scientific stack.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from isp_nlp.records import CODE_DIMENSION
from isp_nlp.store.certificates import latest_wave_certificates
from isp_nlp.store.database import Store


def _share(x: Any) -> str:
    return "?" if not isinstance(x, int | float) else f"{x:.1%}"


def _more(n: Any) -> str:
    return f"{n} more blind-coded audit segment{'' if n == 1 else 's'}"


def wave_sentences(row: Mapping[str, Any]) -> list[str]:
    """One target's wave certificate as sentences (its verdict, then how it compares with
    the seeds)."""
    title = "Codes" if row.get("target") == CODE_DIMENSION else str(row.get("name")
                                                                     or row.get("target"))
    level = _share(row.get('confidence')).replace('.0%', '%')
    coded = f"{row.get('coded')} of {row.get('audit_size')} audit segments coded blind"
    goal = _share(row.get("target_agreement"))
    if row.get("threshold") is not None:
        head = (f"{title}: certified on audit {row.get('audit_id')} at confidence >= "
                f"{float(row['threshold']):.2f} ({coded}; {row.get('covered')} covered, "
                f"{_share(row.get('agreement'))} agree with the blind coders; at least {goal} "
                f"with {level} confidence).")
    else:
        head = (f"{title}: not certified on audit {row.get('audit_id')} ({coded}): "
                f"{str(row.get('reason') or '').rstrip('.')}.")
    cmp = row.get("comparison") or {}
    if not cmp.get("differs") and cmp.get("more_needed") not in (None, 0):
        return [head, f"{title}: not settled yet: so far the wave agrees at least as well as "
                      f"the seeds ({_share(cmp.get('agreement'))} on {cmp.get('covered')} "
                      f"segments); about {_more(cmp['more_needed'])} would settle it."]
    if not cmp.get("differs"):
        return [head]
    at = (f"at the seeds' threshold {float(cmp['threshold']):.2f}"
          if (row.get("seeds") or {}).get("threshold") is not None
          else "on every scored segment")
    wave = _share(cmp.get("agreement"))
    if cmp.get("points") is not None:
        by = (f"{cmp['points']:.1f} points below the seeds' {_share(cmp.get('seeds_agreement'))}"
              if cmp["points"] > 0 else
              f"{-cmp['points']:.1f} points above the seeds' "
              f"{_share(cmp.get('seeds_agreement'))}")
        how = f"agreement {at} is {wave} on {cmp.get('covered')} segments, {by}"
    else:
        how = f"agreement {at} is {wave} on {cmp.get('covered')} segments"
    if not cmp.get("covered"):
        return [head, f"{title}: the wave cannot yet be compared with the seeds: no "
                      f"blind-coded segment reaches the seeds' threshold "
                      f"{float(cmp['threshold']):.2f}; code more of the audit."]
    if cmp.get("more_needed") == 0:
        settle_text = f"the {goal} target still holds on the wave"
    elif cmp.get("never"):
        settle_text = (f"at that agreement no number of blind-coded segments clears the "
                       f"{goal} target")
    else:
        settle_text = f"about {_more(cmp.get('more_needed'))} would settle it"
    if cmp.get("seeds_agreement") is None:  # the seeds measured no agreement to compare
        return [head, f"{title}: the target is not met on the wave: {how}; {settle_text}."]
    return [head, f"{title}: the wave differs from the seeds: {how}; {settle_text}."]


def latest_wave_paragraphs(store: Store, model_id: str) -> list[str]:
    """The latest wave certificate of ``model_id`` as paragraphs ([] if none): a heading
    sentence, then each target's sentences."""
    rows = latest_wave_certificates(store, model_id)
    if not rows:
        return []
    first = rows[0]
    uncoded = first["detail"].get("uncoded", 0)
    head = (f"Wave certificate (audit {first['audit_id']}, {first['created_at'][:10]}): "
            f"{uncoded} of its {first['detail'].get('audit_size')} segments still uncoded.")
    out = [head]
    for r in rows:
        out += wave_sentences({"target": r["target"], "audit_id": r["audit_id"], **r["detail"]})
    return out
