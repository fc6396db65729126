#!/usr/bin/python3
"""Parity fixtures for the reference MQT block, made by the reference code itself.

Runs the MQT-LLaVA repository's own `Resampler` (llava/model/multimodal_projector/builder.py,
held in MQT-LLaVA as `model.query_abstractor`) on a small random checkpoint with the real
geometry (a 24 x 24 patch grid as CLIP ViT-L/14-336 gives, the query grid resized to it by
bicubic interpolation) and tiny widths, and writes:

  query_abstractor.safetensors  the block's weights under the checkpoint's own names
                                (model.query_abstractor.*; pos_embed kept in fp16 as stored)
  cases.safetensors             inputs and the reference's outputs (see CASES below)
  mistakes.json                 how far each deliberate mistake moves the outputs

Needs only Debian's python3-torch (1.13) and numpy; the block's module also imports libraries it
does not use (transformers, einops, PIL, requests, torchvision): they are stubbed here, the
Resampler class and its helpers run unchanged from the reference file.

  /usr/bin/python3 make_fixtures.py --reference /path/to/MQT-LLaVA [--out DIR]
"""
import argparse
import importlib.util
import json
import struct
import sys
import types
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

KV_DIM = 64        # vision width (1024 in the real model)
EMBED_DIM = 48     # LLM width (4096 for Vicuna-7B)
HEADS = 16         # as the reference hard-codes
GRID = 4           # query grid: M = 16 (16 x 16 = 256 in the real model)
PATCHES = (24, 24) # CLIP ViT-L/14 at 336 px
BATCH = 2
MS = [2, 5, 16]    # m values checked (16 = M)
SEED = 20261128


def load_reference(root: Path):
    """Imports builder.py from a checkout of the reference repository, stubbing unused imports."""
    for name in ["transformers", "transformers.modeling_utils", "transformers.modeling_outputs",
                 "einops", "requests", "PIL", "PIL.Image", "torchvision", "torchvision.transforms"]:
        if name not in sys.modules:
            module = types.ModuleType(name)
            sys.modules[name] = module
    mu = sys.modules["transformers.modeling_utils"]
    for attr in ["PreTrainedModel", "apply_chunking_to_forward", "find_pruneable_heads_and_indices",
                 "prune_linear_layer"]:
        setattr(mu, attr, object)
    sys.modules["transformers.modeling_outputs"].BaseModelOutput = object
    sys.modules["einops"].rearrange = None
    sys.modules["PIL"].Image = sys.modules["PIL.Image"]
    sys.modules["torchvision"].transforms = sys.modules["torchvision.transforms"]
    sys.modules["torchvision.transforms"].InterpolationMode = None
    path = root / "llava/model/multimodal_projector/builder.py"
    spec = importlib.util.spec_from_file_location("mqt_reference_builder", path)
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    return builder


def write_safetensors(path: Path, tensors: dict):
    """The safetensors format by hand (8-byte header length, JSON header, raw little-endian data)."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        dtype = {torch.float32: "F32", torch.float16: "F16", torch.int64: "I64"}[t.dtype]
        data = t.numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * ((8 - len(raw) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reference", required=True, type=Path, help="a checkout of MQT-LLaVA")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = ap.parse_args()
    builder = load_reference(args.reference)

    torch.manual_seed(SEED)
    block = builder.Resampler(grid_size=GRID, embed_dim=EMBED_DIM, num_heads=HEADS, kv_dim=KV_DIM)
    # Weights far from their customary initialisation, so a layout mistake moves the outputs far
    # beyond the tolerance (with std 0.02 and unit norms a bicubic/bilinear slip is ~1e-5).
    with torch.no_grad():
        block.query.normal_(0, 0.2)
        block.attn.in_proj_weight.normal_(0, 0.2)
        block.attn.in_proj_bias.normal_(0, 0.1)
        block.attn.out_proj.weight.normal_(0, 0.2)
        block.attn.out_proj.bias.normal_(0, 0.1)
        for ln in [block.ln_q, block.ln_k, block.ln_v]:
            ln.weight.copy_(1 + 0.3 * torch.randn_like(ln.weight))
            ln.bias.normal_(0, 0.2)
        block.proj.normal_(0, 0.2)
    assert block.pos_embed.dtype == torch.float16  # stored as the reference builds it
    state = {"model.query_abstractor." + k: v for k, v in block.state_dict().items()}
    write_safetensors(args.out / "query_abstractor.safetensors", state)

    block = block.float().eval()  # fp32 run: pos_embed keeps its fp16-rounded values
    # patch features of very different sizes (scales from 1e-3 to 1), so LayerNorm's eps matters
    scale = torch.exp(torch.empty(BATCH, PATCHES[0] * PATCHES[1], 1).uniform_(-6.9, 0))
    x = torch.randn(BATCH, PATCHES[0] * PATCHES[1], KV_DIM) * scale
    cases = {"features": x}
    with torch.no_grad():
        keys = builder.get_abs_pos(block.pos_embed, PATCHES)  # (576, KV_DIM)
        cases["key_positions"] = keys
        for m in MS:
            cases[f"tokens.m{m}"] = block(x, num_visual_tokens=m, tgt_size=PATCHES)
    write_safetensors(args.out / "cases.safetensors", cases)

    # Deliberate mistakes, each applied to the reference computation: how far the outputs move.
    full = cases[f"tokens.m{GRID * GRID}"]
    mistakes = {}

    def moved(name, out):
        mistakes[name] = float((out - full).abs().max())

    original = builder.get_abs_pos
    with torch.no_grad():
        for name, mode, corners in [("bilinear resize", "bilinear", False),
                                    ("bicubic with align_corners=True", "bicubic", True)]:
            builder.get_abs_pos = lambda p, t, mode=mode, corners=corners: F.interpolate(
                p.float().reshape(1, GRID, GRID, -1).permute(0, 3, 1, 2), size=t, mode=mode,
                align_corners=corners).permute(0, 2, 3, 1).flatten(0, 2)
            moved(name, block(x, num_visual_tokens=GRID * GRID, tgt_size=PATCHES))
        builder.get_abs_pos = original
        for ln in [block.ln_q, block.ln_k, block.ln_v]:
            ln.eps = 1e-5
        moved("LayerNorm eps 1e-5", block(x, num_visual_tokens=GRID * GRID, tgt_size=PATCHES))
        for ln in [block.ln_q, block.ln_k, block.ln_v]:
            ln.eps = 1e-6
        stored = block.pos_embed.data.clone()
        exact = torch.from_numpy(builder.get_2d_sincos_pos_embed(KV_DIM, GRID)).float()
        block.pos_embed.data = exact
        moved("pos_embed in fp32, not fp16-rounded", block(x, num_visual_tokens=GRID * GRID, tgt_size=PATCHES))
        rows_first = exact.reshape(GRID, GRID, -1).transpose(0, 1).reshape(GRID * GRID, -1).half().float()
        block.pos_embed.data = rows_first
        moved("sin-cos grid row-first (channels of h first)", block(x, num_visual_tokens=GRID * GRID, tgt_size=PATCHES))
        block.pos_embed.data = stored
    (args.out / "mistakes.json").write_text(json.dumps(mistakes, indent=2) + "\n")
    print(json.dumps(mistakes, indent=2))


if __name__ == "__main__":
    main()
