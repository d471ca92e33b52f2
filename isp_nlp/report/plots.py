"""Report charts as PNG bytes.

Figures are built with :class:`matplotlib.figure.Figure` and rendered by the
Agg canvas directly, so pyplot's global state and backend are never touched.
Every figure is at most 8.6 inches wide at 100 dpi, so it fits a 900px page.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from isp_nlp.codebook.check import stage_dimension
from isp_nlp.ingest.controls import one_line
from isp_nlp.report.palette import (
    CODER_COLORS,
    EXTRA_COLORS,
    STAGE_COLORS,
    UNKNOWN,
    hatch,
)

DPI = 100
MAX_WIDTH_IN = 8.6
#: Labels in this order come first (the default codebook's stage values).
DEFAULT_ORDER = stage_dimension().value_ids


def plain(text: object, limit: int = 40) -> str:
    """Label text safe for matplotlib: controls shown as ``<U+001B>`` on one line, no
    mathtext, shortened to ``limit`` characters."""
    value = one_line(str(text))
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return value.replace("\\", "\\\\").replace("$", r"\$")


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def stage_order(labels: Sequence[str], order: Sequence[str] | None = None) -> list[str]:
    """Known values in ``order`` (a dimension's values; by default the stages), then any
    other labels sorted, ``?`` last."""
    known = list(DEFAULT_ORDER if order is None else order)
    present = set(labels)
    ordered = [s for s in known if s in present]
    ordered += sorted(present - set(known) - {UNKNOWN})
    if UNKNOWN in present:
        ordered.append(UNKNOWN)
    return ordered


def stage_colors(labels: Sequence[str], order: Sequence[str] | None = None,
                 fixed: Mapping[str, str] | None = None) -> dict[str, str]:
    """A colour for each label: ``fixed`` (a codebook's value colours) first, then fixed
    for known stages, cycled for others."""
    colors: dict[str, str] = {}
    extra = 0
    fixed = fixed or {}
    for label in stage_order(labels, order):
        if label in fixed:
            colors[label] = fixed[label]
        elif label in STAGE_COLORS:
            colors[label] = STAGE_COLORS[label]
        else:
            colors[label] = EXTRA_COLORS[extra % len(EXTRA_COLORS)]
            extra += 1
    return colors


def code_frequency_chart(frequencies: pd.DataFrame) -> bytes:
    """Horizontal grouped bars: one bar per coder for every code, the code named by
    ``code_name`` (columns code, code_name, coder, count; optional ``source``: a
    model-assisted series dotted, the model's hatched)."""
    counts = frequencies.pivot_table(
        index="code", columns="coder", values="count", aggfunc="sum", fill_value=0
    )
    counts = counts.loc[sorted(counts.index, key=str, reverse=True)]
    names = {str(c): str(n) for c, n in zip(frequencies["code"], frequencies["code_name"],
                                            strict=True) if isinstance(n, str) and n}
    sources = (dict(zip(frequencies["coder"], frequencies["source"], strict=True))
               if "source" in frequencies.columns else {})
    codes = [plain(names.get(str(c), c)) for c in counts.index]
    coders = list(counts.columns)
    height = min(40.0, max(2.0, 0.22 * len(codes) * max(1, len(coders)) ** 0.5 + 1.2))
    fig = Figure(figsize=(MAX_WIDTH_IN, height), layout="constrained")
    ax = fig.add_subplot()
    bar = 0.8 / max(1, len(coders))
    for i, coder in enumerate(coders):
        positions = [y + ((len(coders) - 1) / 2 - i) * bar for y in range(len(codes))]
        pattern = hatch(str(sources.get(coder, "human")))
        color = CODER_COLORS[i % len(CODER_COLORS)]
        ax.barh(
            positions, counts[coder].tolist(), height=bar, label=plain(coder, 32),
            color="white" if pattern else color, edgecolor=color, hatch=pattern,
            linewidth=1.0 if pattern else 0,
        )
    ax.set_yticks(range(len(codes)), codes, fontsize=8)
    ax.set_xlabel("segments coded")
    ax.xaxis.set_major_locator(MaxNLocator(nbins="auto", steps=[1, 2, 2.5, 5, 10], integer=True))
    ax.spines[["top", "right"]].set_visible(False)
    if coders:
        ax.legend(title="coder (hatched: the model alone)", fontsize=8, loc="lower right")
    return _png(fig)


def confusion_matrix_chart(pairs: pd.DataFrame, order: Sequence[str] | None = None) -> bytes:
    """Human (rows) vs model (columns) counts of a dimension's values (in ``order``),
    annotated (columns human, model)."""
    data = pairs.dropna(subset=["human", "model"])
    labels = stage_order([str(v) for v in pd.concat([data["human"], data["model"]])], order)
    table = pd.crosstab(data["human"].astype(str), data["model"].astype(str))
    table = table.reindex(index=labels, columns=labels, fill_value=0)
    side = min(MAX_WIDTH_IN - 2.6, 2.2 + 0.75 * len(labels))
    fig = Figure(figsize=(side + 1.6, side), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(table.to_numpy(), cmap="Blues", vmin=0)
    counts = table.to_numpy(dtype=int)
    peak = max(1, int(counts.max()))
    for i in range(len(labels)):
        for j in range(len(labels)):
            count = int(counts[i, j])
            ax.text(
                j, i, str(count), ha="center", va="center", fontsize=10,
                color="white" if count > peak / 2 else "black",
            )
    ticks = [plain(label, 16) for label in labels]
    ax.set_xticks(range(len(labels)), ticks, rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), ticks)
    ax.set_xlabel("model suggestion")
    ax.set_ylabel("human label")
    bar = fig.colorbar(image, ax=ax, shrink=0.8, label="segments")
    bar.locator = MaxNLocator(integer=True)
    bar.update_ticks()
    return _png(fig)


def kappa_comparison_chart(frame: pd.DataFrame) -> bytes:
    """Grouped horizontal bars per target: human–human kappa vs model–human kappa
    (columns target, human_human, model_human; NaN bars are left out), with the
    confidence interval as a whisker where ``human_low``/``human_high`` or
    ``model_low``/``model_high`` give one."""
    data = frame.iloc[::-1].reset_index(drop=True)
    targets = [plain(t, 32) for t in data["target"]]
    height = min(40.0, max(2.2, 0.36 * len(targets) + 1.3))
    fig = Figure(figsize=(MAX_WIDTH_IN, height), layout="constrained")
    ax = fig.add_subplot()
    bar = 0.38
    series = (("human_human", "human", "human–human", CODER_COLORS[0], bar / 2, ""),
              ("model_human", "model", "model–human (hatched)", CODER_COLORS[1], -bar / 2,
               hatch("model")))
    lows: list[float] = []
    for column, key, label, color, shift, pattern in series:
        values = pd.to_numeric(data[column], errors="coerce")
        keep = [i for i, v in enumerate(values) if pd.notna(v)]
        ax.barh([i + shift for i in keep], [float(values.iloc[i]) for i in keep], height=bar,
                color="white" if pattern else color, edgecolor=color, hatch=pattern,
                linewidth=1.0 if pattern else 0, label=label)
        low_col, high_col = f"{key}_low", f"{key}_high"
        if low_col not in data.columns or high_col not in data.columns:
            continue
        low = pd.to_numeric(data[low_col], errors="coerce")
        high = pd.to_numeric(data[high_col], errors="coerce")
        ci = [i for i in keep if pd.notna(low.iloc[i]) and pd.notna(high.iloc[i])]
        if ci:
            mid = [float(values.iloc[i]) for i in ci]
            ax.errorbar(mid, [i + shift for i in ci], fmt="none", ecolor="#222222",
                        elinewidth=1.0, capsize=3,
                        xerr=[[m - float(low.iloc[i]) for m, i in zip(mid, ci, strict=True)],
                              [float(high.iloc[i]) - m for m, i in zip(mid, ci, strict=True)]])
            lows += [float(low.iloc[i]) for i in ci]
    ax.set_yticks(range(len(targets)), targets, fontsize=8)
    ax.axvline(0, color="#555555", linewidth=0.8)
    for edge in (0.2, 0.4, 0.6, 0.8):
        ax.axvline(edge, color="#dddddd", linewidth=0.6, zorder=0)
    kappas = pd.to_numeric(pd.Series(frame[["human_human", "model_human"]].to_numpy().ravel()),
                           errors="coerce")
    floor = float(kappas.min()) if len(frame) and kappas.notna().any() else 0.0
    left = min([0.0, floor, *lows])
    ax.set_xlim(max(-1.0, left - 0.05), 1.0)
    ax.set_xlabel("Cohen's kappa (whiskers: confidence interval; grey lines: Landis–Koch "
                  "band edges)")
    ax.spines[["top", "right"]].set_visible(False)
    fig.legend(fontsize=8, loc="outside upper center", ncols=2, frameon=False)
    return _png(fig)


def learning_curve_chart(curve: Sequence[Mapping], human_kappa: float | None) -> bytes:
    """Model kappa (± sd) against the seed examples per label, with the human–human line."""
    labels = ["all" if p.get("seed_per_label") is None else str(p["seed_per_label"])
              for p in curve]
    means = [float(p["mean_kappa"]) for p in curve]
    sds = [float(p.get("sd") or 0.0) for p in curve]
    fig = Figure(figsize=(min(MAX_WIDTH_IN, 3.2 + 0.5 * len(curve)), 3.4), layout="constrained")
    ax = fig.add_subplot()
    xs = list(range(len(curve)))
    ax.errorbar(xs, means, yerr=sds, marker="o", color=CODER_COLORS[1], capsize=3,
                label="model–human (mean ± sd over repeats)")
    if human_kappa is not None:
        ax.axhline(human_kappa, color=CODER_COLORS[0], linestyle="--",
                   label=f"human–human ({human_kappa:.2f})")
    ax.set_xticks(xs, labels)
    ax.set_xlabel("seed examples per label (K)")
    ax.set_ylabel("mean Cohen's kappa")
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=8, loc="lower right")
    return _png(fig)


def count_heatmap(matrix: pd.DataFrame, *, xlabel: str, ylabel: str,
                  colorbar: str = "segments") -> bytes:
    """An annotated heatmap of counts (rows × columns), sized to fit the page."""
    rows = [plain(r, 30) for r in matrix.index]
    cols = [plain(c, 24) for c in matrix.columns]
    width = min(MAX_WIDTH_IN, 2.6 + 0.36 * len(cols))
    height = min(40.0, 1.9 + 0.3 * len(rows))
    fig = Figure(figsize=(width, height), layout="constrained")
    ax = fig.add_subplot()
    values = matrix.to_numpy(dtype=float)
    image = ax.imshow(values, cmap="Blues", vmin=0, aspect="auto")
    peak = max(1.0, float(values.max()) if values.size else 1.0)
    if len(rows) * len(cols) <= 900:
        size = 7 if len(cols) > 12 else 8
        for i in range(len(rows)):
            for j in range(len(cols)):
                if values[i, j]:
                    ax.text(j, i, f"{int(values[i, j])}", ha="center", va="center",
                            fontsize=size, color="white" if values[i, j] > peak / 2 else "black")
    ax.set_xticks(range(len(cols)), cols, rotation=55, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    bar = fig.colorbar(image, ax=ax, shrink=0.8, label=colorbar)
    bar.locator = MaxNLocator(integer=True)
    bar.update_ticks()
    return _png(fig)


def risk_coverage_chart(rows: Sequence[Mapping], certified: Mapping | None) -> bytes:
    """Model–human and human–human percent agreement on the covered segments against
    coverage, with the certified threshold's point marked."""
    fig = Figure(figsize=(5.6, 3.4), layout="constrained")
    ax = fig.add_subplot()
    for key, label, color in (("model_human_agreement", "model–human", CODER_COLORS[1]),
                              ("human_human_agreement", "human–human", CODER_COLORS[0])):
        pts = [(float(r["coverage"]), float(r[key])) for r in rows
               if r.get(key) is not None and r.get("coverage")]
        if pts:
            xs, ys = zip(*sorted(pts), strict=True)
            ax.plot(xs, ys, marker="o", markersize=3, color=color,
                    label=f"{label} (same segments)")
    if certified and certified.get("coverage") is not None \
            and certified.get("model_human_agreement") is not None:
        ax.scatter([certified["coverage"]], [certified["model_human_agreement"]], s=80,
                   marker="*", color="black", zorder=5,
                   label=f"certified threshold {certified['threshold']:.2f}")
    ax.set_xlim(0, 1.02)
    ax.set_xlabel("coverage (share of segments suggested)")
    ax.set_ylabel("percent agreement")
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=8, loc="lower left")
    return _png(fig)
