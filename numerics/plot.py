"""Figures of a numerics table (matplotlib, Agg backend, PNG files).

:func:`plot_run` writes, into ``out`` (default ``RUN_DIR/plots``):

* ``<kind>_<stat>_lines.png``: the statistic over steps, one line per module,
  :data:`LABELED` of them (the highest and the lowest) named in the legend
  and coloured, the others thin grey lines;
* ``<kind>_<stat>_heatmap.png``: modules x steps, colour = log10 of the stat;
* ``<kind>_exp_hist_step<N>_<fmt>.png``: exponent histogram at step N (all
  selected modules summed on top, one row per module below) with the number
  format's smallest subnormal, smallest normal and largest value marked
  (default: the format of the tensors' own dtype, so a float32 run shows
  float32's limits);
* ``loss.png``: the loss curve from ``RUN_DIR/metrics.jsonl`` with the sampled
  steps marked (skipped when there is no journal or no loss in it).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ktrack.keys import TRAIN_LOSS_KEYS, VAL_LOSS
from numerics.schema import HIST_COLUMNS, read_table
from numerics.stats import EXP_MAX, EXP_MIN

# name: (log2 of smallest subnormal, log2 of smallest normal, largest finite value)
FORMATS: dict[str, tuple[int, int, float]] = {
    "fp32": (-149, -126, float(np.finfo(np.float32).max)),
    "bf16": (-133, -126, (2 - 2**-7) * 2.0**127),
    "fp16": (-24, -14, 65504.0),
    "fp8_e4m3": (-9, -6, 448.0),
    "fp8_e5m2": (-16, -14, 57344.0),
}
ALIASES = {
    "float32": "fp32", "bfloat16": "bf16", "float16": "fp16", "half": "fp16",
    "e4m3": "fp8_e4m3", "fp8e4m3": "fp8_e4m3", "float8_e4m3fn": "fp8_e4m3",
    "e5m2": "fp8_e5m2", "fp8e5m2": "fp8_e5m2", "float8_e5m2": "fp8_e5m2",
}


class PlotError(ValueError):
    """A plotting request that cannot be met (message is one line)."""


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _select(df, kind: str, module: str | None):
    from numerics.select import matches

    sub = df[df["kind"] == kind]
    if module:
        sub = sub[sub["module"].map(lambda m: matches(m, module))]
    if sub.empty:
        have = ", ".join(sorted(df["kind"].unique())) or "none"
        raise PlotError(f"no '{kind}' rows{' for ' + module if module else ''} in the table "
                        f"(kinds present: {have})")
    label = sub["module"].where(sub["state"] == "", sub["module"] + "." + sub["state"])
    return sub.assign(label=label)


#: Lines a lines plot names in its legend; with more modules, the highest and lowest half of that each.
LABELED = 10


def pick_labeled(piv, top: int = LABELED) -> list:
    """The columns of ``piv`` (steps x modules) whose lines get a colour and a legend entry: every one
    up to ``top``; beyond, the ``top // 2`` with the highest and the ``top - top // 2`` with the lowest
    median (the extremes are where numerics go wrong), in descending order of median."""
    medians = piv.median(skipna=True).fillna(-np.inf).sort_values(ascending=False, kind="stable")
    cols = list(medians.index)
    if len(cols) <= top:
        return cols
    high = top // 2
    return cols[:high] + cols[len(cols) - (top - high):]


def lines_figure(sub, stat: str, kind: str, top: int = LABELED):
    """The figure of :func:`plot_lines` (the caller closes it)."""
    plt = _pyplot()
    piv = sub.pivot_table(index="step", columns="label", values=stat, aggfunc="last", sort=False)
    labeled = pick_labeled(piv, top)
    others = [c for c in piv.columns if c not in labeled]
    fig, ax = plt.subplots(figsize=(12, 6))
    for col in others:  # the middle of the pack: context, not to be told apart
        ax.plot(piv.index, piv[col], color="0.75", lw=0.6, zorder=1)
    if others:
        ax.plot([], [], color="0.75", lw=0.6, label=f"{len(others)} other modules (grey)")
    colours = plt.get_cmap("tab10" if len(labeled) <= 10 else "tab20")
    styles = ("-", "--", ":", "-.")
    for i, col in enumerate(labeled):
        ax.plot(piv.index, piv[col], color=colours(i % colours.N), ls=styles[(i // colours.N) % len(styles)],
                lw=1.6, marker="o", ms=2.5, label=col, zorder=2)
    vals = piv.to_numpy(dtype=float)
    if np.nanmin(np.where(vals > 0, vals, np.nan), initial=np.inf) < np.inf and np.all(vals[np.isfinite(vals)] >= 0):
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(stat)
    which = "" if not others else f" (named: the {top // 2} highest and {top - top // 2} lowest by median)"
    ax.set_title(f"{kind} {stat} per module{which}", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, frameon=False)
    fig.tight_layout()
    return fig


def plot_lines(sub, stat: str, kind: str, path: Path) -> Path:
    """Statistic over steps, one line per module; :data:`LABELED` of them named (:func:`pick_labeled`),
    the others thin grey lines behind them."""
    plt = _pyplot()
    fig = lines_figure(sub, stat, kind)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_heatmap(sub, stat: str, kind: str, path: Path) -> Path:
    """Modules x steps image of log10 |stat|."""
    plt = _pyplot()
    piv = sub.pivot_table(index="label", columns="step", values=stat, aggfunc="last", sort=False)
    vals = piv.to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        img = np.log10(np.abs(vals))
    img[~np.isfinite(img)] = np.nan
    fig, ax = plt.subplots(figsize=(10, max(3, 0.22 * len(piv.index) + 1.5)))
    im = ax.imshow(img, aspect="auto", interpolation="nearest", cmap="magma")
    ax.set_yticks(range(len(piv.index)), piv.index, fontsize=6)
    steps = list(piv.columns)
    ticks = np.unique(np.linspace(0, len(steps) - 1, min(len(steps), 10)).astype(int))
    ax.set_xticks(ticks, [str(steps[t]) for t in ticks])
    ax.set_xlabel("step")
    fig.colorbar(im, ax=ax, label=f"log10 |{stat}|")
    ax.set_title(f"{kind} {stat}: modules x steps")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_exp_hist(sub, step: int, fmt: str, kind: str, path: Path) -> Path:
    """Exponent histogram at ``step`` with the range of ``fmt`` marked."""
    plt = _pyplot()
    cols = [c for c in HIST_COLUMNS if c in sub.columns]
    if not cols:
        raise PlotError("the table has no histogram columns (run had NUMERICS_HISTOGRAM=n)")
    at = sub[sub["step"] == step]
    counts = at[cols].to_numpy(dtype=float)
    # x positions: underflow at EXP_MIN-1, bins at e, overflow at EXP_MAX+1
    xs = np.arange(EXP_MIN - 1, EXP_MAX + 2)
    total = counts.sum(axis=0)
    nz = np.nonzero(total)[0]
    sub_e, norm_e, vmax = FORMATS[fmt]
    max_e = math.floor(math.log2(vmax))
    lo = min(xs[nz[0]] if len(nz) else 0, sub_e) - 2
    hi = max(xs[nz[-1]] if len(nz) else 0, max_e) + 2
    lo, hi = max(lo, EXP_MIN - 1), min(hi, EXP_MAX + 1)
    keep = (xs >= lo) & (xs <= hi)
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(11, 4 + 0.18 * len(at)), sharex=True,
                                  gridspec_kw={"height_ratios": [1, max(1, len(at) / 8)]})
    frac = total / max(total.sum(), 1)
    ax.bar(xs[keep], frac[keep], width=0.9, color="tab:blue")
    for a in (ax, ax2):
        a.axvspan(lo - 0.5, sub_e - 0.5, color="tab:red", alpha=0.12)
        a.axvspan(sub_e - 0.5, norm_e - 0.5, color="tab:orange", alpha=0.12)
        a.axvspan(max_e + 0.5, hi + 0.5, color="tab:red", alpha=0.12)
        for x, c in ((sub_e, "tab:red"), (norm_e, "tab:orange"), (max_e, "tab:red")):
            a.axvline(x - 0.5 if x != max_e else x + 0.5, color=c, lw=1, ls="--")
    ax.set_ylabel("fraction")
    ax.set_title(f"{kind} exponent histogram at step {step}; {fmt}: subnormal >= 2^{sub_e}, "
                 f"normal >= 2^{norm_e}, max {vmax:.6g} (shaded: out of range / subnormal)")
    ax.title.set_fontsize(9)
    rows = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    ax2.imshow(rows[:, keep], aspect="auto", interpolation="nearest", cmap="Blues",
               extent=(lo - 0.5, hi + 0.5, len(at) - 0.5, -0.5))
    ax2.set_yticks(range(len(at)), list(at["label"]), fontsize=6)
    ax2.set_xlabel("log2 |x|  (bin e: 2^e <= |x| < 2^(e+1); ends are underflow/overflow)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def read_loss(run_dir: Path) -> dict[str, tuple[list[int], list[float]]]:
    """Loss curves from the log rows of the run's journal ``metrics.jsonl`` (``rundata.journal``)."""
    from rundata.journal import LOG, read_records

    curves: dict[str, tuple[list[int], list[float]]] = {}
    for rec in read_records(run_dir):
        if rec["type"] != LOG:
            continue
        for key in (*TRAIN_LOSS_KEYS, VAL_LOSS):
            v = rec["metrics"].get(key)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                xs, ys = curves.setdefault(key, ([], []))
                xs.append(rec["step"])
                ys.append(float(v))
    return curves


def plot_loss(run_dir: Path, steps: list[int], path: Path) -> Path | None:
    """Loss curve(s) with the numerics steps marked; None without a journal."""
    curves = read_loss(run_dir)
    if not curves:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 4))
    for key, (xs, ys) in curves.items():
        ax.plot(xs, ys, label=key, lw=1)
    for s in steps:
        ax.axvline(s, color="grey", lw=0.4, alpha=0.5)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title("loss (grey: steps with numerics)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def run_format(sub, step: int) -> str:
    """The number format of the tensors at ``step`` (the most common ``dtype`` of those rows, as a
    :data:`FORMATS` name); ``fp32`` for a dtype without one (float64)."""
    dtypes = sub.loc[sub["step"] == step, "dtype"].value_counts()
    for dtype in dtypes.index:
        name = ALIASES.get(str(dtype).lower(), str(dtype).lower())
        if name in FORMATS:
            return name
    return "fp32"


def plot_run(run_dir: str | Path, stat: str = "rms", kind: str = "activation", step: int | None = None,
             fmt: str | None = None, module: str | None = None, out: str | Path | None = None) -> list[Path]:
    """Write every figure for one run; returns the PNG paths. ``fmt`` None: the run's own dtype
    (:func:`run_format`)."""
    if fmt is not None:
        fmt = ALIASES.get(fmt.lower(), fmt.lower())
        if fmt not in FORMATS:
            raise PlotError(f"unknown format '{fmt}'; use one of {', '.join(FORMATS)}")
    run = Path(run_dir)
    if not run.exists():
        raise PlotError(f"run directory {run} does not exist; give a run folder runs/<project>/<run>")
    df = read_table(run)
    sub = _select(df, kind, module)
    steps = sorted(sub["step"].unique().tolist())
    if step is None:
        step = steps[-1]
    elif step not in steps:
        raise PlotError(f"step {step} was not sampled; sampled steps: {steps[0]}..{steps[-1]} "
                        f"(e.g. {steps[:5]})")
    outdir = Path(out) if out else run / "plots"
    outdir.mkdir(parents=True, exist_ok=True)
    files = [
        plot_lines(sub, stat, kind, outdir / f"{kind}_{stat}_lines.png"),
        plot_heatmap(sub, stat, kind, outdir / f"{kind}_{stat}_heatmap.png"),
    ]
    if fmt is None:
        fmt = run_format(sub, int(step))
    if any(c in sub.columns for c in HIST_COLUMNS):
        files.append(plot_exp_hist(sub, int(step), fmt, kind, outdir / f"{kind}_exp_hist_step{step}_{fmt}.png"))
    loss = plot_loss(run, sorted(df["step"].unique().tolist()), outdir / "loss.png")
    if loss is not None:
        files.append(loss)
    return files
