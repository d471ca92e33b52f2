"""The value strip: one row per participant, one cell per codable segment, coloured by
its value of the pathway dimension and patterned by where the label came from (the
model's own guesses hatched, a coder's decision on a suggestion dotted)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.collections import PatchCollection
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FuncFormatter, MaxNLocator

from isp_nlp.report.palette import UNKNOWN, UNKNOWN_HATCH, hatch
from isp_nlp.report.plots import MAX_WIDTH_IN, _png, plain, stage_colors

HATCH_EDGE = "#222222"
UNKNOWN_EDGE = "#9A9A9A"


def _cells(ax, cells: Sequence[tuple[int, int]], pattern: str, edge: str) -> None:
    if cells:
        ax.add_collection(PatchCollection(
            [Rectangle((x - 0.5, y - 0.5), 1, 1) for x, y in cells], facecolor="none",
            edgecolor=edge, hatch=pattern, linewidth=0))


def stage_strip_chart(sequences: Mapping[str, Sequence[str]], order: Sequence[str] | None = None,
                      fixed: Mapping[str, str] | None = None, *,
                      sources: Mapping[str, Sequence[str]] | None = None,
                      unknown_text: str = "? no label") -> bytes:
    """One row per document, one cell per codable segment in order (values in ``order``,
    coloured by ``fixed`` where given); ``sources[doc]`` (parallel to the labels) hatch
    the model's cells and dot the model-assisted ones, and a second legend names them.
    "?" cells are white and cross-hatched, told apart from any value at a glance."""
    documents = list(sequences)
    all_labels = [str(label) for seq in sequences.values() for label in seq]
    colors = stage_colors(all_labels or [UNKNOWN], order, fixed)
    values = list(colors)
    longest = max((len(seq) for seq in sequences.values()), default=1) or 1
    height = min(60.0, 1.7 + 0.32 * max(1, len(documents)))
    fig = Figure(figsize=(MAX_WIDTH_IN, height), layout="constrained")
    ax = fig.add_subplot()
    by_pattern: dict[str, list[tuple[int, int]]] = {}
    unknown: list[tuple[int, int]] = []
    faces = []
    for y, (doc, seq) in enumerate(sequences.items()):
        row_sources = list((sources or {}).get(doc, ()))
        for x, label in enumerate(map(str, seq)):
            faces.append(Rectangle((x - 0.5, y - 0.5), 1, 1, facecolor=colors[label]))
            if label == UNKNOWN:
                unknown.append((x, y))
            elif x < len(row_sources) and hatch(row_sources[x]):
                by_pattern.setdefault(hatch(row_sources[x]), []).append((x, y))
    ax.add_collection(PatchCollection(faces, match_original=True, linewidth=0))
    _cells(ax, unknown, UNKNOWN_HATCH, UNKNOWN_EDGE)
    for pattern, cells in by_pattern.items():
        _cells(ax, cells, pattern, HATCH_EDGE)
    ax.set_xlim(-0.5, longest - 0.5)
    ax.set_ylim(max(1, len(documents)) - 0.5, -0.5)
    ax.set_yticks(range(len(documents)), [plain(d, 28) for d in documents], fontsize=8)
    ax.set_xlabel("codable segment (in interview order)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{int(round(x)) + 1}"))
    if longest <= 60:
        ax.set_xticks([x - 0.5 for x in range(1, longest)], minor=True)
        ax.grid(which="minor", axis="x", color="white", linewidth=0.6)
    ax.set_yticks([y - 0.5 for y in range(1, len(documents))], minor=True)
    ax.grid(which="minor", axis="y", color="white", linewidth=1.5)
    ax.tick_params(which="minor", length=0)
    ax.spines[:].set_visible(False)
    handles = [
        Patch(facecolor=colors[label], edgecolor=UNKNOWN_EDGE if label == UNKNOWN else "#555555",
              hatch=UNKNOWN_HATCH if label == UNKNOWN else "",
              label=unknown_text if label == UNKNOWN else plain(label, 16))
        for label in values
    ]
    fig.legend(handles=handles, loc="outside upper center", ncols=min(6, len(handles)),
               fontsize=8, frameon=False, title="value", title_fontsize=8)
    if sources is not None:
        shown = {s for doc, seq in sources.items()
                 for s, label in zip(seq, sequences.get(doc, ()), strict=False)
                 if label != UNKNOWN}
        legend = [Patch(facecolor="white", edgecolor=HATCH_EDGE, hatch=hatch(s),
                        label=SOURCE_LEGEND[s]) for s in SOURCE_LEGEND if s in shown]
        if legend:
            fig.legend(handles=legend, loc="outside lower center", ncols=len(legend),
                       fontsize=8, frameon=False, title="label source",
                       title_fontsize=8)
    return _png(fig)


#: The strip's source legend, people's labels solid.
SOURCE_LEGEND = {
    "human": "human (solid)", "consensus": "consensus (solid)", "blind": "blind (solid)",
    "assisted": "assisted: a coder's decision on a suggestion (dotted)",
    "model": "model alone (hatched)",
}
