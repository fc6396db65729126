"""How far training moved a model's weights between two checkpoints: per weight matrix and in all,
the norm of the change relative to the norm at the first checkpoint, and the norm at the second.
Matrices only the second checkpoint has (layers added by block expansion, switchable norms' gains)
print their norm alone, and with --rows the root mean square of each of their rows (for the
per-budget gains and adapters, one row per budget set: a (sets, D, r) adapter map's row is set s's
whole D × r matrix).

    # v3's backbone from the end of stage 0 to the shipped weights (the model card's 37 %)
    python3 docs/eval/weight_drift.py target/train/mqt-tiny-vision/step-1000/encoder/encoder.safetensors models/mqt-tiny/encoder/encoder.safetensors --prefix vision.
    # the deeper LM's two added layers against v17's six (the model card's "Since v18: a deeper LM")
    python3 docs/eval/weight_drift.py /tmp/v17x/models/mqt-tiny/llm/llm.safetensors target/train/v26-deeper/final/llm/llm.safetensors --prefix llm.layers.
    # switchable norms: each norm's per-budget gains, by set (the model card's "Since v18: switchable norms")
    python3 docs/eval/weight_drift.py /tmp/v17x/models/mqt-tiny/llm/llm.safetensors target/train/v27-norms/final/llm/llm.safetensors --prefix llm. --rows
    # per-budget adapters: each layer's up maps, by set (the model card's "Since v18: per-budget adapters")
    python3 docs/eval/weight_drift.py models/mqt-tiny/llm/llm.safetensors target/train/v29-adapters/final/llm/llm.safetensors --prefix llm.layers. --rows
    # how low-rank the LM-only run's change is (the model card's "Since v18: an adapter for m = 4 alone")
    python3 docs/eval/weight_drift.py models/mqt-tiny/llm/llm.safetensors target/train/v30-m4-llm-only/final/llm/llm.safetensors --prefix llm.layers. --spectrum
    # per-budget LoRA: set 1's update A[1]·B[1] of each projection against its weight (the model card's "Since v18: LoRA for m = 4 alone")
    python3 docs/eval/weight_drift.py models/mqt-tiny/llm/llm.safetensors target/train/v32-m4-lora/final/llm/llm.safetensors --prefix llm.layers. --lora 1

Reads the safetensors files directly (float32 tensors only); needs numpy (Debian's /usr/bin/python3
has none here: use a python3 that has it). Not used by the build or the tests.
"""
import argparse
import json
import math
import struct

import numpy as np


def load(path):
    blob = open(path, "rb").read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    out = {}
    for name, v in header.items():
        if name == "__metadata__":
            continue
        if v["dtype"] != "F32":
            raise SystemExit(f"{path}: {name} is {v['dtype']}, only F32 is read")
        start, end = v["data_offsets"]
        out[name] = np.frombuffer(blob[8 + n + start:8 + n + end], dtype=np.float32).reshape(v["shape"])
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("before")
    p.add_argument("after")
    p.add_argument("--prefix", default="", help="only tensors whose name starts with this")
    p.add_argument("--rows", action="store_true", help="each new matrix's rows' rms too")
    p.add_argument("--spectrum", action="store_true",
                   help="each changed matrix's share of the change in its top 16 and 64 singular directions")
    p.add_argument("--lora", type=int, metavar="SET",
                   help="each projection's per-budget LoRA update A[SET]·B[SET] in the second checkpoint,"
                        " its norm against the projection's weight in the first, and its top-16 share")
    a = p.parse_args()
    before, after = load(a.before), load(a.after)
    if a.lora is not None:
        for name in sorted(after):
            if name.startswith(a.prefix) and name.endswith(".budget_lora_a"):
                proj = name[:-len(".budget_lora_a")]
                update = after[name][a.lora] @ after[proj + ".budget_lora_b"][a.lora]  # (in, out) = ΔWᵀ
                energy = np.linalg.svd(update, compute_uv=False) ** 2
                share = energy[:16].sum() / energy.sum() if energy.sum() > 0 else 0.0
                ratio = np.linalg.norm(update) / np.linalg.norm(before[proj + ".weight"])
                print(f"{proj:45s} {100 * ratio:5.1f} %  top 16: {share:.2f}")
        return
    changed = total = 0.0
    for name in sorted(before):
        if not name.startswith(a.prefix):
            continue
        d = float(np.linalg.norm(after[name] - before[name]))
        n = float(np.linalg.norm(before[name]))
        changed += d * d
        total += n * n
        if before[name].ndim > 1:
            top = ""
            if a.spectrum and d > 0:
                energy = np.linalg.svd(after[name] - before[name], compute_uv=False) ** 2
                top = f"  top 16: {energy[:16].sum() / energy.sum():.2f}, top 64: {energy[:64].sum() / energy.sum():.2f}"
            print(f"{name:45s} {100 * d / n:5.1f} %  norm {np.linalg.norm(after[name]):7.2f}{top}")
    for name in sorted(set(after) - set(before)):
        if name.startswith(a.prefix) and after[name].ndim > 1:
            rows = after[name]
            rms = ""
            if a.rows:
                by_row = (rows**2).reshape(rows.shape[0], -1).mean(axis=1)
                rms = "  rows' rms " + " ".join(f"{r:.3f}" for r in np.sqrt(by_row))
            print(f"{name:45s}   new  norm {np.linalg.norm(rows):7.2f}{rms}")
    print(f"all {a.prefix or 'tensors'}: {100 * math.sqrt(changed / total):.1f} % of the norm")


if __name__ == "__main__":
    main()
