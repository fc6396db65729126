"""Teacher-forced accuracy of a training run's train_log.csv, by step range, beside another run's.

Steps are counted from `--offset` (1000 = from the end of a 1,000-step stage 0: the model card's
"LM step"); rows before it are left out. Three views:

    # by LM step, against the shipped v3 (same offset) at the same LM steps
    /usr/bin/python3 docs/eval/train_logs.py target/train/mqt-tiny-pyramid/train_log.csv
    # by m, over LM steps 3000-4499 (m buckets 2-4, 6-10, 12-20, 22-40, 42-64)
    /usr/bin/python3 docs/eval/train_logs.py target/train/mqt-tiny-pyramid/train_log.csv --by-m 3000 4500
    # one run alone, in windows of 250 steps counted from step 1300 (the start of stage 2)
    /usr/bin/python3 docs/eval/train_logs.py target/train/mqt-tiny-position-only/train_log.csv --offset 1300 --every 250 --alone
    # two runs of one seed (the same clips, questions and m at every step), in windows of 100 steps
    /usr/bin/python3 docs/eval/train_logs.py target/train/position-index/train_log.csv --offset 0 \
        --against target/train/position-index-control/train_log.csv --against-offset 0 --every 100

Accuracy is the share of answer turns whose every token is predicted right (Trainer's accuracy).
Not used by the build or the tests.
"""
import argparse
import csv

RANGES = [(0, 100), (100, 200), (200, 300), (300, 500), (500, 800), (800, 1200), (1200, 1500),
          (1500, 2000), (2000, 2500), (2500, 3000), (3000, 3500), (3500, 4000), (4000, 4500),
          (4500, 5000), (5000, 5500)]
BUCKETS = [(2, 4), (6, 10), (12, 20), (22, 40), (42, 64)]


def load(path, offset):
    rows = {}
    for r in csv.DictReader(open(path)):
        step = int(r["step"]) - offset
        if step >= 0:
            rows[step] = (int(r["m"]), float(r["loss"]), float(r["accuracy"]))
    return rows


def mean(values):
    return sum(values) / len(values)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("log")
    p.add_argument("--offset", type=int, default=1000)
    p.add_argument("--against", default="models/mqt-tiny/train_log.csv")
    p.add_argument("--against-offset", type=int, default=1000)
    p.add_argument("--by-m", nargs=2, type=int, metavar=("FROM", "TO"))
    p.add_argument("--every", type=int)
    p.add_argument("--alone", action="store_true")
    a = p.parse_args()
    new = load(a.log, a.offset)
    if a.alone:
        last = max(new)
        for lo in range(0, last + 1, a.every or 100):
            ks = [k for k in range(lo, lo + (a.every or 100)) if k in new]
            print(f"{lo:5d}-{ks[-1]:5d} n={len(ks):4d}  acc {100 * mean([new[k][2] for k in ks]):5.1f}%"
                  f" loss {mean([new[k][1] for k in ks]):.3f}")
        return
    ref = load(a.against, a.against_offset)
    if a.by_m:
        for lo, hi in BUCKETS:
            ks = [k for k in range(*a.by_m) if k in new and k in ref and lo <= ref[k][0] <= hi]
            if ks:
                print(f"m {lo:2d}-{hi:2d} n={len(ks):3d}  against {100 * mean([ref[k][2] for k in ks]):5.1f}%"
                      f"  this {100 * mean([new[k][2] for k in ks]):5.1f}%")
        return
    ranges = RANGES
    if a.every:
        ranges = [(lo, lo + a.every) for lo in range(0, max(new) + 1, a.every)]
    for lo, hi in ranges:
        ks = [k for k in range(lo, hi) if k in new and k in ref]
        if not ks:
            break
        print(f"{lo:5d}-{hi - 1:5d} n={len(ks):4d}  against {100 * mean([ref[k][2] for k in ks]):5.1f}%"
              f" loss {mean([ref[k][1] for k in ks]):.3f} | this {100 * mean([new[k][2] for k in ks]):5.1f}%"
              f" loss {mean([new[k][1] for k in ks]):.3f}")


if __name__ == "__main__":
    main()
