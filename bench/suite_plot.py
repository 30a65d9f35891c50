"""The transfer plot (transfer.png): one-way hand-off time against array
size, one panel per transport (interpreters, processes) on one time axis.
shoal's rows are drawn thick in strong colours, the peers thin and muted;
every row has a colour, line style and marker of its own, the same in both
panels, and the legends sit below the panels, off the data."""

from suite_common import fmt_size
from suite_peers import label

# kind: (colour, line style, marker). shoal's rows first, strong colours.
SHOAL_STYLE = {
    "shoal": ("#0050b4", "-", "o"),
    "shoal_poll": ("#d7301f", "-", "D"),
    "shoal_free": ("#6a2c91", "--", "s"),
}
PEER_STYLE = {
    "xiq": ("#b08d57", "-", "v"),
    "ipe": ("#8fa9a0", "--", "^"),
    "tq": ("#7f9fbf", ":", "P"),
    "mpq": ("#c98f6b", "--", "v"),
    "shm": ("#8fae7c", "-.", "X"),
    "ppe": ("#a0a0a0", "-", "^"),
    "ray": ("#c49ab0", "--", "h"),
    "iox": ("#86b7c7", "-", "<"),
    "iox_ev": ("#d4b86a", ":", ">"),
}
PANELS = (("interp", "between interpreters (threads: of one interpreter)"), ("proc", "between processes"))


def plot(R, path):
    """Draws R's transfer results to `path`; returns None, or why there is no plot."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib not installed: no plot"
    tr = R.get("transfer")
    if not tr:
        return "no transfer results: no plot"
    sizes = tr["sizes"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.2), sharey=True)
    for ax, (where, title) in zip(axes, PANELS):
        rows = tr.get(where, {})
        # peers first, so that shoal's lines are drawn over them
        for kind in sorted(rows, key=lambda k: k in SHOAL_STYLE):
            row = rows[kind]
            pts = [(s, row[str(s)]["handoff_s"]) for s in sizes if str(s) in row]
            if not pts:
                continue
            ours = kind in SHOAL_STYLE
            colour, ls, marker = (SHOAL_STYLE if ours else PEER_STYLE).get(kind, ("#999999", "-", "."))
            ax.plot([p[0] for p in pts], [p[1] for p in pts], color=colour, ls=ls, marker=marker,
                    lw=3.0 if ours else 1.4, ms=7 if ours else 5, zorder=3 if ours else 2,
                    label=label(kind))
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(sizes, [fmt_size(s) for s in sizes])
        ax.set_xlabel("array size")
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="major", alpha=0.35)
        ax.grid(True, which="minor", alpha=0.12)
        # the legend lists shoal's rows first, in the order of SHOAL_STYLE
        handles, labels = ax.get_legend_handles_labels()
        order = {label(k): i for i, k in enumerate(list(SHOAL_STYLE) + list(PEER_STYLE))}
        pairs = sorted(zip(handles, labels), key=lambda hl: order.get(hl[1], len(order)))
        legend = ax.legend([h for h, _ in pairs], [t for _, t in pairs], fontsize=8, loc="upper left",
                           bbox_to_anchor=(0.0, -0.13), frameon=False)
        for text in legend.get_texts():
            if text.get_text() in {label(k) for k in SHOAL_STYLE}:
                text.set_fontweight("bold")
    axes[0].set_ylabel("one-way hand-off time (s), median")
    axes[1].tick_params(labelleft=True)
    m = R["machine"]
    fig.suptitle(f"One-way transfer of a float64 array, sender to receiver holding it (lower is better)\n"
                 f"{m['cpu']}, {m['cores']} cores, {m['python']}, load {m['load_start'][0]:.1f}, {m['date']}",
                 fontsize=10)
    fig.subplots_adjust(top=0.84, wspace=0.12)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return None
