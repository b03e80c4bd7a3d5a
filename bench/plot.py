"""``bench/run.py --plot PATH``: the comparison as a PNG bar chart.

Two panels side by side, one group of bars per scenario: operations per
second and client CPU per operation, each as "times better than redis-py".
Bars start at redis-py's 1x line, on a log scale (so that 0.5x and 2x are as
far from it), and a whisker reaches back to the slowest round.
"""

# Bar colours per implementation (colour-blind safe), in drawing order.
COLOURS = {
    "pyredis-c": "#0072B2",
    "pyredis-py": "#56B4E9",
    "redis-benchmark": "#E69F00",
}
LABELS = {
    "pyredis-c": "pyredis compiled",
    "pyredis-py": "pyredis pure",
    "redis-benchmark": "redis-benchmark (C)",
}


def _speedups(results, sid, key, higher_is_better):
    """{impl: (times better than redis-py, the slowest round's value)} for one figure."""
    by_impl = results.get(sid, {})
    ref = by_impl.get("redis-py", {}).get(key)
    out = {}
    for impl in COLOURS:
        res = by_impl.get(impl)
        if not ref or not res or not res.get(key):
            continue
        value = res[key] / ref if higher_is_better else ref / res[key]
        spread = res.get("wall_spread" if key == "ops_s" else "user_spread") or 0.0
        out[impl] = (value, value / (1 + spread))
    return out


def plot_comparison(path, meta, results, scenarios):
    """Draw ``results`` (bench/run.py's, per scenario and implementation) of
    ``scenarios`` (``[(scenario id, title)]``, top to bottom) into ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    panels = (
        ("operations per second", "ops_s", True),
        ("client CPU (user) per operation", "user_us", False),
    )
    titles = dict(scenarios)
    sids = [sid for sid, _ in scenarios if results.get(sid, {}).get("redis-py")]
    impls = [impl for impl in COLOURS if any(impl in results[sid] for sid in sids)]
    if not sids:
        raise SystemExit("--plot: no scenario has a redis-py figure to compare with")
    bar = 0.8 / max(1, len(impls))
    fig, axes = plt.subplots(1, 2, figsize=(13, 1.1 + 0.95 * len(sids)), sharey=True)
    for ax, (title, key, higher) in zip(axes, panels):
        seen = [1.0]
        for n, impl in enumerate(impls):
            ys, values, lows = [], [], []
            for row, sid in enumerate(sids):
                got = _speedups(results, sid, key, higher).get(impl)
                if got is None:
                    continue
                ys.append(row - 0.4 + bar * (n + 0.5))
                values.append(got[0])
                lows.append(got[0] - got[1])
            if not values:
                continue
            ax.barh(ys, [v - 1 for v in values], left=1, height=bar * 0.9, color=COLOURS[impl],
                    label=LABELS[impl], xerr=[lows, [0] * len(lows)],
                    error_kw={"elinewidth": 0.8, "capsize": 2})
            for y, value in zip(ys, values):
                ax.annotate("%.1fx" % value if value < 10 else "%.0fx" % value,
                            (value, y), xytext=(3 if value >= 1 else -3, 0),
                            textcoords="offset points", va="center",
                            ha="left" if value >= 1 else "right", fontsize=7)
            seen += values + [value - low for value, low in zip(values, lows)]
        ax.set_xscale("log")
        ax.set_xlim(min(seen) / 2, max(seen) * 2.5)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: "%gx" % x))
        ax.axvline(1.0, color="#333333", linewidth=1.0)
        ax.set_title("%s\ntimes better than redis-py (its line: 1x; whisker: slowest round)"
                     % title, fontsize=10)
        ax.grid(axis="x", which="major", linestyle=":", linewidth=0.6)
    axes[0].set_yticks(range(len(sids)))
    axes[0].set_yticklabels([titles[sid] for sid in sids], fontsize=9)
    axes[0].invert_yaxis()
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9, frameon=False)
    fig.suptitle("pyredis end-to-end benchmark: %s; Python %s, %d CPUs, %d round(s) of %s ops"
                 % (meta["server"].split(" on ")[0], meta["python"], meta["cpus"],
                    meta["rounds"], "{:,}".format(meta["ops"])), fontsize=11)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
