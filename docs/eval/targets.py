#!/usr/bin/env python3
"""The training issue's targets from `eval --json` lines (docs/eval/<run>-s<seed>.json).

For a Matryoshka run, per eval seed: overall accuracy at each m, the curve (the detail types,
counts, position and direction, their mean accuracy at M minus at m = 2, in points), the lowest
question type at M and m = 16 against M, and its m = 4
against another run (--against, e.g. mqt-tiny-v18) and against the mean of fixed m = 4 baseline
runs (--baselines, each a run name whose lines hold m = 4).

  python3 docs/eval/targets.py v27-norms --against mqt-tiny-v18 \
      --baselines v18-m4 v18-m4-seed7 v18-m4-seed8 --own v27-norms-m4
"""
import argparse
import json
import os

DETAIL = ["count_all", "count_colour", "count_shape", "direction", "position"]
HERE = os.path.dirname(os.path.abspath(__file__))


def line(run, seed):
    with open(os.path.join(HERE, f"{run}-s{seed}.json")) as f:
        return json.loads(f.read())["m"]


def curve(m):
    top = max(m, key=int)
    return sum(m[top]["by_type"][t] - m["2"]["by_type"][t] for t in DETAIL) / len(DETAIL) * 100


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    p.add_argument("--against", help="another Matryoshka run, compared at every m")
    p.add_argument("--baselines", nargs="*", default=[], help="fixed m = 4 runs, their mean")
    p.add_argument("--own", help="the run's own fixed m = 4 baseline")
    a = p.parse_args()
    for s in a.seeds:
        m = line(a.run, s)
        acc = "  ".join(f"m={k} {v['accuracy'] * 100:.2f}" for k, v in m.items())
        print(f"seed {s}: {acc}  curve {curve(m):+.2f}")
        top = max(m, key=int)
        low = min(m[top]["by_type"].items(), key=lambda kv: kv[1])
        sixteen = f"  m=16 - M {(m['16']['accuracy'] - m[top]['accuracy']) * 100:+.2f}" if "16" in m else ""
        print(f"  at M: lowest type {low[0]} {low[1] * 100:.2f}{sixteen}")
        four = m["4"]["accuracy"] * 100
        if a.against:
            o = line(a.against, s)
            diff = "  ".join(
                f"m={k} {(m[k]['accuracy'] - o[k]['accuracy']) * 100:+.2f}" for k in m if k in o)
            print(f"  against {a.against}: {diff}  curve {curve(m) - curve(o):+.2f}")
        if a.baselines:
            mean = sum(line(b, s)["4"]["accuracy"] for b in a.baselines) / len(a.baselines) * 100
            print(f"  m=4 against the baselines' mean {mean:.2f}: {four - mean:+.2f}")
        if a.own:
            own = line(a.own, s)["4"]["accuracy"] * 100
            print(f"  m=4 against {a.own} {own:.2f}: {four - own:+.2f}")
        types = "  ".join(f"{t} {v * 100:.1f}" for t, v in m["4"]["by_type"].items())
        print(f"  m=4 by type: {types}")


if __name__ == "__main__":
    main()
