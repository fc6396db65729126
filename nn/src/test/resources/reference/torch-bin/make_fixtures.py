#!/usr/bin/env python3
"""PyTorch-pickle checkpoints (torch.save zip format) for CheckpointFolder's .bin reading.

Writes, with whichever torch runs this script (the fixtures were made twice: Debian's python3-torch
1.13 into torch113/, torch 2.13 into torch213/):

  <out>/pytorch_model-00001-of-00002.bin, -00002-of-00002.bin, pytorch_model.bin.index.json
        a state dict sharded as transformers shards it: F32, F16 and BF16 tensors, 1-D to 3-D, and
        two tensors that are views of one storage at different offsets
  <out>/../expected.safetensors   the same values as float32 (written by hand: no safetensors needed)
  <out>/../strided/pytorch_model.bin  a state dict holding a transposed (non-contiguous) tensor

  python3 make_fixtures.py OUT_DIR_NAME
"""
import collections
import json
import struct
import sys
from pathlib import Path

import torch

here = Path(__file__).resolve().parent
out = here / sys.argv[1]
out.mkdir(exist_ok=True)
g = torch.Generator().manual_seed(7)
shared = torch.randn(40, generator=g)
state = collections.OrderedDict()
state["model.embed_tokens.weight"] = torch.randn(5, 4, generator=g)
state["model.layers.0.self_attn.q_proj.weight"] = torch.randn(4, 4, generator=g).half()
state["model.layers.0.mlp.up_proj.weight"] = torch.randn(2, 3, 4, generator=g).bfloat16()
state["model.norm.weight"] = 1 + torch.randn(4, generator=g)
state["view.a"] = shared[8:20].view(3, 4)   # offset 8 in a 40-element storage
state["view.b"] = shared[24:32]            # offset 24 in the same storage
state["lm_head.weight"] = torch.randn(5, 4, generator=g)
names = list(state)
shards = [names[:4], names[4:]]
index = {"metadata": {"total_size": 0}, "weight_map": {}}
for i, part in enumerate(shards):
    fname = f"pytorch_model-{i + 1:05d}-of-{len(shards):05d}.bin"
    torch.save(collections.OrderedDict((k, state[k]) for k in part), out / fname)
    for k in part:
        index["weight_map"][k] = fname
(out / "pytorch_model.bin.index.json").write_text(json.dumps(index, indent=2) + "\n")

header, blobs, offset = {}, [], 0
for name, t in state.items():
    data = t.float().contiguous().numpy().tobytes()
    header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
    blobs.append(data)
    offset += len(data)
raw = json.dumps(header).encode()
raw += b" " * ((8 - len(raw) % 8) % 8)
with open(here / "expected.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))

(here / "strided").mkdir(exist_ok=True)
torch.save({"t": torch.randn(3, 4, generator=g).t()}, here / "strided" / "pytorch_model.bin")
print(torch.__version__, "->", out)
