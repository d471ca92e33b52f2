"""The pathway diagram: a box per value of the pathway dimension's scale (push → push/pull
→ exchange by default) with arrows between them.

Solid arrows are adjacent forward moves (width grows with the number of
participants), dashed arcs over the top are leap-frogs (push → exchange),
and dotted arcs below are backward moves. Each arrow carries its count and
the codes most associated with it.
"""

from __future__ import annotations

from collections.abc import Mapping

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.path import Path

from isp_nlp.analysis.pathways import BACKWARD, LEAP_FROG, PathwaySummary
from isp_nlp.report.plots import MAX_WIDTH_IN, _png, plain, stage_colors

BOX_H, BOX_Y = 1.1, 0.0
TEXT = "#222222"


def _codes_text(transition, limit: int = 3, names: Mapping[str, str] | None = None) -> str:
    names = names or {}
    return "\n".join(f"{plain(names.get(c.code, c.code), 24)} ×{c.lift:.1f}"
                     for c in transition.top_codes[:limit])


def _arc(x0: float, x1: float, y: float, apex: float, **style) -> FancyArrowPatch:
    """A quadratic curve from (x0, y) to (x1, y) whose middle reaches ``apex``."""
    control = (((x0 + x1) / 2), 2 * apex - y)
    path = Path([(x0, y), control, (x1, y)], [Path.MOVETO, Path.CURVE3, Path.CURVE3])
    return FancyArrowPatch(path=path, arrowstyle="-|>", **style)


def _label(n: int) -> str:
    return f"{n} participant{'s' if n != 1 else ''}"


def pathway_chart(summary: PathwaySummary, note: str | None = None,
                  code_names: Mapping[str, str] | None = None) -> bytes:
    """Render the diagram for ``summary`` as PNG bytes (860 px wide): a box per value on
    the pathway dimension's scale, named by the codebook, coloured by its colour;
    ``note`` (which label sources it rests on) is written under it, and the codes around
    each move are named by ``code_names`` (the codebook's) where given."""
    dimension = summary.dimension
    scale = list(dimension.scale)
    names = {v.id: v.name for v in dimension.values}
    colours = stage_colors(scale, scale, {v.id: v.color for v in dimension.values if v.color})
    step = 10.0 / max(1, len(scale))
    X = {v: step * (i + 0.5) for i, v in enumerate(scale)}
    BOX_W = min(2.1, 0.75 * step)
    moves = {(t.from_stage, t.to_stage): t for t in summary.transitions}
    backward = [t for t in summary.transitions if t.kind == BACKWARD]
    leaps = [t for t in summary.transitions if t.kind == LEAP_FROG]
    leap_apex = BOX_Y + BOX_H / 2 + 1.0
    top = leap_apex + 0.75 if leaps else BOX_Y + BOX_H / 2 + 0.6
    depths = [BOX_Y - BOX_H / 2 - 0.8 - 1.2 * i for i in range(len(backward))]
    bottom = min([BOX_Y - 1.45, *[d - 0.75 for d in depths]])
    fig = Figure(figsize=(MAX_WIDTH_IN, max(2.4, 0.62 * (top - bottom))), layout="constrained")
    ax = fig.add_subplot()
    ax.set_xlim(0, 10)
    ax.set_ylim(bottom, top)
    ax.axis("off")
    peak = max((t.count for t in summary.transitions), default=1)
    reached = {s: sum(s in p.stages for p in summary.pathways) for s in scale}
    starts = {s: sum(bool(p.stages) and p.stages[0] == s for p in summary.pathways)
              for s in scale}
    for stage in scale:
        color = colours[stage]
        ax.add_patch(FancyBboxPatch(
            (X[stage] - BOX_W / 2, BOX_Y - BOX_H / 2), BOX_W, BOX_H,
            boxstyle="round,pad=0.02,rounding_size=0.15", facecolor=color + "26",
            edgecolor=color, linewidth=2))
        ax.text(X[stage], BOX_Y + 0.2, plain(names.get(stage, stage), 18), ha="center",
                va="center",
                fontsize=12, fontweight="bold", color=TEXT)
        ax.text(X[stage], BOX_Y - 0.25, f"reached by {reached[stage]}\n{starts[stage]} start here",
                ha="center", va="center", fontsize=8, color="#444444")
    for (a, b), t in moves.items():
        width = 1.2 + 5.0 * t.count / peak
        if t.kind == LEAP_FROG:
            ax.add_patch(_arc(X[a] + 0.4, X[b] - 0.4, BOX_Y + BOX_H / 2, leap_apex,
                              mutation_scale=16 + 2 * width, linestyle=(0, (4, 2)),
                              linewidth=width, color=colours[b]))
            codes = _codes_text(t, names=code_names).replace("\n", ", ")
            ax.text((X[a] + X[b]) / 2, leap_apex + 0.12 + 0.02 * width,
                    f"leap-frog: {_label(t.count)}"
                    + (f"\n{codes}" if codes else ""), ha="center", va="bottom", fontsize=8.5,
                    color=TEXT, linespacing=1.4)
        elif t.kind == BACKWARD:
            continue
        else:
            x0, x1 = X[a] + BOX_W / 2 + 0.05, X[b] - BOX_W / 2 - 0.05
            ax.add_patch(FancyArrowPatch(
                (x0, BOX_Y), (x1, BOX_Y), arrowstyle="-|>", mutation_scale=14 + 2 * width,
                linewidth=width, color=colours[b]))
            middle = (x0 + x1) / 2
            ax.text(middle, BOX_Y + 0.25, _label(t.count), ha="center", va="bottom",
                    fontsize=9, fontweight="bold", color=TEXT)
            ax.text(middle, BOX_Y - 0.25, _codes_text(t, names=code_names), ha="center",
                    va="top", fontsize=8, color="#444444")
    for t, depth in zip(backward, depths, strict=True):
        a, b = t.from_stage, t.to_stage
        width = 1.2 + 3.0 * t.count / peak
        ax.add_patch(_arc(X[a], X[b], BOX_Y - BOX_H / 2, depth, mutation_scale=14,
                          linestyle=":", linewidth=width, color="#666666"))
        codes = _codes_text(t, names=code_names).replace("\n", ", ")
        ax.text((X[a] + X[b]) / 2, depth - 0.1,
                f"back {plain(names.get(a, a), 18)} → {plain(names.get(b, b), 18)}: "
                f"{_label(t.count)}"
                + (f"\n{codes}" if codes else ""),
                ha="center", va="top", fontsize=8, color=TEXT, linespacing=1.4)
    if note:
        fig.supxlabel(plain(note, 140), fontsize=8.5, color="#444444")
    return _png(fig)
