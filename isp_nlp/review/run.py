"""A project's review, wired up: its items in order, the durable log, the session, the loop.

Used by ``isp-nlp review`` and the demo. I/O stays injected (see
:mod:`isp_nlp.review.terminal`), so nothing here prints or imports click.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from isp_nlp.errors import IspNlpError
from isp_nlp.records import segment_memo
from isp_nlp.review.items import ItemDetails, build_review_items, first_review_items
from isp_nlp.review.queue import DEFAULT_SEED, ReviewFilter, ReviewItem, filter_items, sorter
from isp_nlp.review.retrain import BackgroundRetrainer
from isp_nlp.review.session import ReviewSession
from isp_nlp.review.terminal import (
    ReviewSummary,
    check_relabels,
    check_script,
    run_review,
    run_scripted,
)
from isp_nlp.store.database import Store
from isp_nlp.store.decisions import DecisionLog
from isp_nlp.store.folder import require_codebook
from isp_nlp.suggest.next_to_code import is_backchannel

#: How many segments, first in the queue's order, a full-screen review reads to show its
#: first segment at once (the rest of the queue is read once that segment is on screen).
FIRST_ITEMS = 200


def check_coder(store: Store, coder: str) -> None:
    """Refuse a coder name that differs only in case or spacing from a coder the project
    already knows (``You`` beside ``you``): it would silently start a second coder."""
    name = " ".join(coder.split()).casefold()
    for known in store.coders():
        if known.name != coder.strip() and " ".join(known.name.split()).casefold() == name:
            raise IspNlpError(
                f"The coder name {coder!r} differs only in case or spacing from {known.name!r}, "
                f"who already coded in this project; pass --coder {known.name} to go on as "
                "that coder, or a clearly different name for a new one.")


def project_items(store: Store, coder: str, *, order: str = "uncertain",
                  seed: int = DEFAULT_SEED, only: ReviewFilter | None = None
                  ) -> list[ReviewItem]:
    """The latest model's review items for ``coder``, filtered by ``only`` and ordered by
    ``order`` (a key of :data:`~isp_nlp.review.queue.SORTERS`; ``seed`` seeds random);
    their details are left for :class:`~isp_nlp.review.items.ItemDetails`."""
    recorder = DecisionLog(store)
    return arrange(build_review_items(store, coder, recorder.decided(coder)), order=order,
                   seed=seed, only=only)


def arrange(items: Iterable[ReviewItem], *, order: str = "uncertain",
            seed: int = DEFAULT_SEED, only: ReviewFilter | None = None) -> list[ReviewItem]:
    """``items`` ordered by ``order`` (``seed`` seeds random) and filtered by ``only``."""
    return filter_items(list(sorter(order, seed)(items)), only or ReviewFilter())


def project_review(store: Store, coder: str, *, order: str = "uncertain",
                   seed: int = DEFAULT_SEED, only: ReviewFilter | None = None
                   ) -> ReviewSession:
    """A review session over the latest model's suggestions (see :func:`project_items`),
    recording into the project log."""
    items = project_items(store, coder, order=order, seed=seed, only=only)
    return ReviewSession(items, DecisionLog(store), coder, require_codebook(store),
                         details=ItemDetails(store))


def quick_review(store: Store, coder: str, *, order: str = "uncertain",
                 seed: int = DEFAULT_SEED, only: ReviewFilter | None = None
                 ) -> tuple[ReviewSession, Callable[[], list[ReviewItem]] | None]:
    """A review session that can show its first segment at once, and the function that
    reads the whole queue for it (see :meth:`ReviewSession.rerank`).

    When the store keeps the queue's scores (see
    :func:`~isp_nlp.review.items.first_review_items`), the session starts with the first
    :data:`FIRST_ITEMS` segments in ``order``, provided they hold the segment the whole
    queue would show first; otherwise it is :func:`project_review`'s, and the function
    is None."""
    only = only or ReviewFilter()
    recorder = DecisionLog(store)
    decided = recorder.decided(coder)
    first = first_review_items(store, coder, decided, order=order, limit=FIRST_ITEMS)
    if first is not None:
        head = arrange(first, order=order, seed=seed, only=only)
        fresh = [it for it in head if decided.get(it.key) is None]
        if fresh and (only.backchannels or not is_backchannel(fresh[0].segment.text)):
            session = ReviewSession(head, recorder, coder, require_codebook(store),
                                    details=ItemDetails(store))
            return session, lambda: project_items(store, coder, order=order, seed=seed,
                                                   only=only)
    return project_review(store, coder, order=order, seed=seed, only=only), None


def retrain_tick(session: ReviewSession, retrainer: BackgroundRetrainer, *,
                 order: str = "uncertain", seed: int = DEFAULT_SEED,
                 only: ReviewFilter | None = None) -> Callable[[], list[ReviewItem] | None]:
    """What the full-screen review polls while it runs: tell ``retrainer`` how many
    decisions this session has made (it starts a retrain every ``every``), and once a
    retrain has finished, the new model's items (built once, by the retrainer) ordered and
    filtered as the session's were (the screen then re-ranks its queue)."""
    def tick() -> list[ReviewItem] | None:
        retrainer.notify(len(session.decisions()))
        items = retrainer.poll()
        return None if items is None else arrange(items, order=order, seed=seed, only=only)
    return tick


def save_memo(store: Store, coder: str, item: ReviewItem, text: str) -> None:
    """Keep ``text`` as ``coder``'s note on ``item``'s span, and as a memo in the log."""
    seg = item.segment
    DecisionLog(store).memo(coder, segment_memo(seg, text), segment_id=seg.id,
                            model_id=item.model_id)


def review_project(
    store: Store,
    coder: str,
    *,
    order: str = "uncertain",
    seed: int = DEFAULT_SEED,
    only: ReviewFilter | None = None,
    script: Iterable[str] | None = None,
    read_key: Callable[[], str] | None = None,
    write: Callable[[str], None] = print,
    read_line: Callable[[str], str] | None = None,
    header: Sequence[str] = (),
    values: Mapping[str, str] | None = None,
) -> ReviewSummary:
    """Run ``coder``'s review: the scripted actions if ``script`` is given, else the
    interactive loop reading keys with ``read_key`` and answers with ``read_line``.
    ``header`` lines (the model's trust statement) are written once the coder and the
    script are known to be valid, before the first item. ``values`` (dimension id →
    value) are what the script's relabels assert on dimensions they do not name."""
    session = project_review(store, coder, order=order, seed=seed, only=only)
    if script is not None:
        actions = list(script)
        check_script(actions)
        check_relabels(session.codebook, actions, values)
        for line in header:
            write(line)
        return run_scripted(session, actions, values)
    if read_key is None or read_line is None:
        raise TypeError("an interactive review needs read_key and read_line")
    for line in header:
        write(line)
    return run_review(session, read_key=read_key, write=write, read_line=read_line)
