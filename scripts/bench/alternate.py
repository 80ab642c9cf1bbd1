#!/usr/bin/env python3
"""alternate.py -- time commands in alternation and compare each with the first.

    scripts/bench/alternate.py [-r RUNS] [-w WARMUP] [--json FILE] \\
        'NAME=COMMAND' 'NAME=COMMAND' ...

Each round runs every command once, in the order given (after WARMUP rounds
that are not counted); so a noisy stretch of the machine hits all commands of
a round alike. The first command is the baseline: every other command's ratio
is taken round by round (its time over the baseline's time in the same round,
the baseline having run just before it), and the table gives the median of
those ratios and in how many rounds it was faster. Peak RSS is the largest
over the runs, from GNU time's %M (/usr/bin/time wraps every run; its cost,
about a millisecond, is the same for all commands). COMMAND is split like a
shell line (shlex) and run without a shell, with stdout to /dev/null (stderr
is shown only if the command fails, which stops the run).

Prints a Markdown table (best, median, median ratio to the baseline, peak
RSS); --json FILE also writes every time. Takes RUNS + WARMUP times the sum
of the commands' times. Needs python3 and the Debian package time
(/usr/bin/time).
"""

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

GNU_TIME = "/usr/bin/time"   # Debian package time


def run_once(argv):
    """Wall seconds and peak RSS (KiB) of one run of argv.

    The RSS comes from GNU time's %M, not from our own wait4(): a child that
    python spawns (vfork, or fork) starts out with python's memory map, and
    the kernel keeps that map's high-water mark in the child's ru_maxrss
    across exec, so a 6 MiB tool would read as python's ~13 MiB."""
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as rss:
        t0 = time.perf_counter()
        rc = subprocess.call([GNU_TIME, "-q", "-f", "%M", "-o", rss.name, *argv],
                             stdout=subprocess.DEVNULL, stderr=err)
        wall = time.perf_counter() - t0
        if rc != 0:
            err.seek(0)
            sys.stderr.write(err.read().decode(errors="replace"))
            sys.exit(f"alternate.py: `{shlex.join(argv)}` exited with {rc}")
        return wall, int(rss.read().split()[-1])


def fmt_t(s):
    return f"{s * 1000:.1f} ms" if s < 1 else f"{s:.2f} s"


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-r", "--runs", type=int, default=15, help="counted rounds (15)")
    ap.add_argument("-w", "--warmup", type=int, default=1, help="uncounted rounds first (1)")
    ap.add_argument("--json", help="write every time and RSS here")
    ap.add_argument("commands", nargs="+", metavar="NAME=COMMAND")
    args = ap.parse_args()
    cmds = []
    for c in args.commands:
        name, sep, line = c.partition("=")
        if not sep or not line.strip():
            sys.exit(f"alternate.py: expected NAME=COMMAND, got {c!r}")
        cmds.append((name, shlex.split(line)))

    times = {n: [] for n, _ in cmds}
    rss = {n: 0 for n, _ in cmds}
    for rnd in range(args.warmup + args.runs):
        counted = rnd >= args.warmup
        for name, argv in cmds:
            wall, maxrss = run_once(argv)
            if counted:
                times[name].append(wall)
                rss[name] = max(rss[name], maxrss)
        if counted:
            print(f"[alternate] round {rnd - args.warmup + 1}/{args.runs}: " + ", ".join(
                f"{n} {fmt_t(times[n][-1])}" for n, _ in cmds), file=sys.stderr)
        else:
            print(f"[alternate] warm-up round {rnd + 1}/{args.warmup} done", file=sys.stderr)

    base = cmds[0][0]
    print(f"| command | best | median | median ratio to `{base}` | peak RSS |")
    print("|---|---:|---:|---:|---:|")
    result = {"runs": args.runs, "warmup": args.warmup, "commands": []}
    for name, argv in cmds:
        t = times[name]
        if name == base:
            ratio_s = "1"
            ratios = [1.0] * len(t)
        else:
            ratios = [a / b for a, b in zip(t, times[base])]
            faster = sum(r < 1 for r in ratios)
            ratio_s = f"{statistics.median(ratios):.2f} (faster in {faster} of {len(t)})"
        print(f"| `{name}` | {fmt_t(min(t))} | {fmt_t(statistics.median(t))} | {ratio_s} | "
              f"{rss[name] / 1024:.0f} MiB |")
        result["commands"].append({
            "name": name, "argv": argv, "times": t, "median": statistics.median(t),
            "best": min(t), "ratios": ratios, "median_ratio": statistics.median(ratios),
            "max_rss_kib": rss[name]})
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
