"""How widely each latent query of a legacy-block, positional-key MQT looks over the patches.

With positional keys (MqtConfig.KeyMode.POSITIONAL) the cross-attention weights depend on the
positions alone, so they can be read straight from the weights: for every query and head, the
softmax over patches of (q_proj(ln_q(latent) + qpos)) . (k_proj(kpos)) / sqrt(head width), with the
same 2D sin-cos positions as SinCos2d.embed (row half first). Prints, per head, the mean over
queries of the effective number of patches attended (exp of the attention's entropy; 1 = one patch,
P = all alike) and of the largest weight; then the same for the first m queries only.

    /usr/bin/python3 docs/eval/attention_spread.py models/mqt-tiny/encoder

Needs numpy and torch (Debian's python3-torch); not used by the build or the tests.
"""
import json
import math
import struct
import sys

import numpy as np
import torch


def tensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, v in header.items():
        if name == "__metadata__":
            continue
        a, b = v["data_offsets"]
        assert v["dtype"] == "F32", name
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype=np.float32).reshape(v["shape"]).copy())
    return out


def sincos(dim, cells):
    rows = int(math.floor(math.sqrt(cells)))
    while cells % rows:
        rows -= 1
    cols = cells // rows
    q = dim // 4
    out = np.zeros((rows * cols, dim), np.float64)
    for r in range(rows):
        for c in range(cols):
            for i in range(q):
                w = 1.0 / 10000.0 ** (i / q)
                out[r * cols + c, [i, q + i, 2 * q + i, 3 * q + i]] = [
                    math.sin(r * w), math.cos(r * w), math.sin(c * w), math.cos(c * w)]
    return torch.from_numpy(out.astype(np.float32))


def main(folder):
    config = json.load(open(f"{folder}/config.json"))["mqt"]
    if config["keyMode"] != "POSITIONAL" or config.get("block", "LEGACY") != "LEGACY":
        sys.exit("only the legacy block with positional keys has content-free attention")
    w = tensors(f"{folder}/encoder.safetensors")
    d, heads, big_m, patches = config["dim"], config["heads"], config["maxTokens"], config["patches"]
    dh = d // heads
    latent = w["mqt.latent_queries"]
    q = torch.nn.functional.layer_norm(latent, (d,), w["mqt.ln_q.weight"], w["mqt.ln_q.bias"], 1e-5)
    q = q + sincos(d, big_m)
    k = sincos(d, patches)
    q = q @ w["mqt.attn.q_proj.weight"].T + w["mqt.attn.q_proj.bias"]
    k = k @ w["mqt.attn.k_proj.weight"].T + w["mqt.attn.k_proj.bias"]
    q = q.view(big_m, heads, dh).transpose(0, 1)  # (H, M, dh)
    k = k.view(patches, heads, dh).transpose(0, 1)  # (H, P, dh)
    attention = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(dh), -1)  # (H, M, P)
    entropy = -(attention * attention.clamp_min(1e-12).log()).sum(-1)  # (H, M)
    effective = entropy.exp()
    print(f"{folder}: M = {big_m}, P = {patches}, {heads} heads")
    print("effective patches per query, mean by head:", [round(x, 1) for x in effective.mean(1).tolist()])
    print("largest weight per query, mean by head:   ", [round(x, 3) for x in attention.max(-1).values.mean(1).tolist()])
    for m in (2, 4, 16, big_m):
        if m <= big_m:
            print(f"first {m:3d} queries: effective patches {effective[:, :m].mean().item():5.1f} of {patches}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "models/mqt-tiny/encoder")
