"""The transfer plot (transfer.png): one-way hand-off time against array
size."""

from suite_common import fmt_size
from suite_peers import label


def plot(R, path):
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
    fig, ax = plt.subplots(figsize=(8, 5.5))
    styles = {"interp": "-", "proc": "--"}
    for where in ("interp", "proc"):
        for kind, row in tr[where].items():
            pts = [(s, row[str(s)]["handoff_s"]) for s in sizes if str(s) in row]
            if not pts:
                continue
            w = "threads" if kind == "tq" else ("interpreters" if where == "interp" else "processes")
            ax.plot([p[0] for p in pts], [p[1] for p in pts], styles[where], marker="o",
                    lw=2.5 if kind == "shoal" else 1.3, label=f"{label(kind)} ({w})")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(sizes, [fmt_size(s) for s in sizes])
    ax.set_xlabel("array size")
    ax.set_ylabel("one-way hand-off time (s), median")
    m = R["machine"]
    ax.set_title(f"One-way transfer of a float64 array\n{m['cpu']}, {m['cores']} cores, {m['python']}, load {m['load_start'][0]:.1f}",
                 fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None
