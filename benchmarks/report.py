"""Tables, target ratios, JSON and charts from the results of a run."""

from __future__ import annotations

import json
from pathlib import Path

MB = 1e6
MEMORY_LIMIT = 10**9  # "below 1 GB"

# (label, operation, subject, reference, goal, kind): "speed" = reference_s / subject_s >= goal;
# "overhead" = subject_s / reference_s <= goal.
TARGETS = [
    ("read: npy >= 0.8x in-memory", "read", "npy", "in_memory", 0.8, "speed"),
    ("read: hdf5 >= 0.8x in-memory", "read", "hdf5", "in_memory", 0.8, "speed"),
    ("read: tfrecord >= 0.5x in-memory", "read", "tfrecord", "in_memory", 0.5, "speed"),
    ("read: pathlist >= 3x image_dataset_from_directory", "read", "pathlist", "keras_png", 3.0, "speed"),
    ("write: npy >= 0.7x np.save", "write", "npy", "np_save", 0.7, "speed"),
    ("(extra) write: npy >= 0.7x np.save from the Dataset", "write", "npy", "np_save_ds", 0.7, "speed"),
    ("write: tfrecord >= 20x Example loop", "write", "tfrecord", "example_loop", 20.0, "speed"),
    ("write: tfdata time <= 1.10x tf.data save", "write", "tfdata", "tf_save", 1.10, "overhead"),
]


def _secs(row: dict | None, op: str) -> float | None:
    cell = (row or {}).get(op) or {}
    return cell.get("seconds") if not cell.get("error") else None


def target_rows(results: dict) -> list[dict]:
    rows = {(r["workload"], r["method"]): r for r in results.get("rows", [])}
    out = []
    for label, op, subject, reference, goal, kind in TARGETS:
        for workload in results["meta"]["workloads"]:
            if (workload, subject) not in rows and (workload, reference) not in rows:
                continue
            s, r = _secs(rows.get((workload, subject)), op), _secs(rows.get((workload, reference)), op)
            ratio = None if not s or not r else (r / s if kind == "speed" else s / r)
            met = None if ratio is None else (ratio >= goal if kind == "speed" else ratio <= goal)
            out.append({"target": label, "workload": workload, "ratio": ratio, "goal": goal, "kind": kind, "met": met})
    for m in results.get("memory", []):
        for op in ("write", "read"):
            peak = ((m.get(op) or {}).get("peak_rss"))
            met = None if peak is None or m["method"] == "tf_save" else peak < MEMORY_LIMIT
            out.append({"target": f"memory: {op} peak RSS < 1 GB", "workload": f"lazy {m['gib']:.2f} GiB", "method": m["method"],
                        "ratio": None if peak is None else peak / 1e9, "goal": 1.0, "kind": "GB", "met": met})
    dag = results.get("dagster")
    if dag and dag.get("ratio") is not None:
        out.append({"target": "dagster: materialize <= 2x direct calls", "workload": "demo graph", "ratio": dag["ratio"],
                    "goal": 2.0, "kind": "overhead", "met": dag["ratio"] <= 2.0})
    return out


def _fmt(x, spec=".2f", missing="–"):
    return missing if x is None else format(x, spec)


def _cell(row: dict, op: str, what: str):
    cell = row.get(op) or {}
    if cell.get("error"):
        return "error"
    value = cell.get(what)
    if value is None:
        return "–"
    if what == "seconds":
        return f"{value:.3g}" if value < 10 else f"{value:.1f}"
    if what == "rate":
        return _sig(value / MB)
    return f"{value / MB:,.0f}"


def _sig(x: float) -> str:
    """Three significant digits without scientific notation: 1,234 / 56.7 / 0.123."""
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def main_table(results: dict) -> str:
    head = "| workload | method | write s | write MB/s | read s | read MB/s | disk MB | write peak RSS MB | read peak RSS MB |"
    lines = [head, "|" + "---|" * 9]
    for r in results.get("rows", []):
        if r.get("error"):
            lines.append(f"| {r['workload']} | {r['method']} | {r['error']} |" + " |" * 6)
            continue
        for op in ("write", "read"):
            cell = r.get(op) or {}
            if cell.get("seconds") and not cell.get("error"):
                cell["rate"] = r["raw_bytes"] / cell["seconds"]
        name = f"**{r['method']}**" if r["kind"] == "ours" else r["method"]
        disk = "–" if r.get("disk_bytes") is None else f"{r['disk_bytes'] / MB:,.1f}"
        lines.append(
            f"| {r['workload']} | {name} | {_cell(r, 'write', 'seconds')} | {_cell(r, 'write', 'rate')} | {_cell(r, 'read', 'seconds')} "
            f"| {_cell(r, 'read', 'rate')} | {disk} | {_cell(r, 'write', 'peak_rss')} | {_cell(r, 'read', 'peak_rss')} |"
        )
    return "\n".join(lines)


def target_table(results: dict) -> str:
    lines = ["| target | workload | measured | goal | met |", "|---|---|---|---|---|"]
    for t in target_rows(results):
        label = t["target"] + (f" ({t['method']})" if t.get("method") else "")
        unit = " GB" if t["kind"] == "GB" else "x"
        met = {True: "yes", False: "**NO**", None: "n/a"}[t["met"]]
        lines.append(f"| {label} | {t['workload']} | {_fmt(t['ratio'])}{unit if t['ratio'] is not None else ''} | {t['goal']}{unit} | {met} |")
    return "\n".join(lines)


def memory_table(results: dict) -> str:
    lines = ["| method | data GiB | write s | write peak RSS MB | read s | read peak RSS MB | disk MB |", "|---|---|---|---|---|---|---|"]
    for m in results.get("memory", []):
        disk = "–" if m.get("disk_bytes") is None else f"{m['disk_bytes'] / MB:,.0f}"
        lines.append(f"| {m['method']} | {m['gib']:.2f} | {_cell(m, 'write', 'seconds')} | {_cell(m, 'write', 'peak_rss')} "
                     f"| {_cell(m, 'read', 'seconds')} | {_cell(m, 'read', 'peak_rss')} | {disk} |")
    idle = results.get("idle_rss") or {}
    if idle:
        lines.append("\nResident memory of a process that only imports: " + ", ".join(f"{k} {v / MB:,.0f} MB" for k, v in idle.items() if v))
    return "\n".join(lines)


def errors(results: dict) -> list[str]:
    out = []
    for r in results.get("rows", []) + results.get("memory", []):
        for op in ("write", "read"):
            err = (r.get(op) or {}).get("error")
            if err:
                out.append(f"{r.get('workload', 'memory')}/{r['method']} {op}: {err}")
    return out


def markdown(results: dict) -> str:
    parts = [header(results), ""] + (["## Results", main_table(results), ""] if results.get("rows") else [])
    parts += ["## Targets", target_table(results)]
    if results.get("memory"):
        parts += ["", "## Memory (lazily generated data)", memory_table(results)]
    if results.get("dagster"):
        d = results["dagster"]
        job, direct = d.get("dagster_job") or {}, d.get("dagster_direct") or {}
        parts += ["", "## Dagster overhead",
                  f"`dataset-assets materialize` (job `materialize_all`, {job.get('artifacts')} artifacts, {job.get('checks_passed')} checks passed): "
                  f"{_fmt(d.get('dagster_s'))} s; the same library calls made directly ({direct.get('artifacts')} artifacts, "
                  f"{direct.get('checks_passed')} verifications): {_fmt(d.get('direct_s'))} s; ratio {_fmt(d.get('ratio'))}x "
                  f"(whole processes, imports included: {_fmt(d.get('ratio_whole_process'))}x)" + (f" (error: {d['error']})" if d.get("error") else "")]
    errs = errors(results)
    if errs:
        parts += ["", "## Errors", *[f"- {e}" for e in errs]]
    return "\n".join(parts) + "\n"


def chart(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    workloads = [w for w in results["meta"]["workloads"] if any(r["workload"] == w for r in results["rows"])]
    if not workloads:
        return
    fig, axes = plt.subplots(2, len(workloads), figsize=(5.2 * len(workloads), 7.5), squeeze=False)
    for col, workload in enumerate(workloads):
        rows = [r for r in results["rows"] if r["workload"] == workload]
        for row_i, op in enumerate(("write", "read")):
            ax = axes[row_i][col]
            shown = [r for r in rows if _secs(r, op)]
            names = [r["method"] for r in shown]
            rates = [r["raw_bytes"] / _secs(r, op) / MB for r in shown]
            colors = [{"ours": "tab:blue", "peer": "tab:orange"}.get(r["kind"], "tab:gray") for r in shown]
            ax.barh(range(len(shown)), rates, color=colors)
            ax.set_yticks(range(len(shown)), names)
            ax.invert_yaxis()
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            for i, v in enumerate(rates):
                ax.text(v, i, f" {_sig(v)}", va="center", fontsize=8)
            ax.set_title(f"{workload}: {op} (MB/s of raw data, log)", fontsize=10)
            ax.margins(x=0.25)
    fig.suptitle("dataset-assets (blue) vs other libraries (orange) and baselines (gray); higher is faster", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_all(results: dict, out: Path, quiet: bool = False) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    text = markdown(results)
    (out / "results.md").write_text(text)
    chart(results, out / "benchmarks.png")
    if not quiet:
        print(text)


def header(results: dict) -> str:
    """Machine, versions, sizes and date of a run, as Markdown."""
    meta = results["meta"]
    m, v = meta["machine"], meta["versions"]
    sizes = ", ".join(f"{w} {meta['sizes'][w]:,} ({meta['descriptions'][w]})" for w in meta["workloads"])
    lines = [
        f"- date: {meta['date']}; command: `{meta['command']}`" + (f"; patch: `{meta['patch']}`" if meta.get("patch") else ""),
        f"- machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB RAM, {m['os']}",
        "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"- sizes: {sizes}; times are the minimum of up to {meta['repeat']} runs, each in a fresh process",
    ]
    return "\n".join(lines)


if __name__ == "__main__":  # re-render DIR/results.md and DIR/benchmarks.png from DIR/results.json
    import sys

    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "benchmark-results")
    write_all(json.loads((folder / "results.json").read_text()), folder)
