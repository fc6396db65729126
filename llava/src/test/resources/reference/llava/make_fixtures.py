#!/usr/bin/env python3
"""Parity fixtures for a whole MQT-LLaVA checkpoint, made by the reference implementations.

Builds a small randomly initialised MQT-LLaVA in the exact on-disk layout of the real one, with the
real geometry where it matters (336 x 336 input, patch 14, 24 x 24 patches, a 4 x 4 query grid
resized to them) and tiny widths, and records what the reference code computes for it:

  vision/   a CLIP vision tower folder: config.json (CLIPVisionConfig), model.safetensors
            (vision_model.*), preprocessor_config.json (CLIPImageProcessor)
  llm/      the LLaVA folder: config.json (LLaMA + LLaVA keys), sharded safetensors with
            model.safetensors.index.json holding the LLaMA weights and model.query_abstractor.*
            (pos_embed in fp16, as stored), tokenizer.json (SentencePiece-style BPE with byte
            fallback, <s> added at the start) and tokenizer_config.json
  image.png a 400 x 300 picture (padded to a square with the mean colour, then resized)
  expected.safetensors  pixel values, layer -2 patch features, MQT tokens at m = 2, 5, 16, the
            logits over the whole prompt with the image inserted (m = 16 and m = 2)
  cases.json  the prompts, their token ids, and greedy ids at each m
  mistakes.json  how far each deliberate mistake moves the logits

The reference implementations: CLIP (CLIPVisionModel, CLIPImageProcessorPil), LLaMA
(LlamaForCausalLM, eager attention) and the tokenizer from Hugging Face transformers / tokenizers;
the MQT block is MQT-LLaVA's own Resampler (llava/model/multimodal_projector/builder.py), loaded
from a checkout of the reference repository. Splicing the image into the prompt follows the
reference's prepare_inputs_labels_for_multimodal and tokenizer_image_token (one image: the text
before <image>, the m visual tokens, the text after). Needs torch, transformers (>= 4.40; made
with 5.17), tokenizers, safetensors, pillow; the Java tests do not need it.

  python3 make_fixtures.py --reference /path/to/MQT-LLaVA [--out DIR]
"""
import argparse
import importlib.util
import json
import sys
import types
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import save_file

SEED = 20261128
VISION = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
              image_size=336, patch_size=14, hidden_act="quick_gelu", layer_norm_eps=1e-5)
LLM = dict(hidden_size=48, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
           num_key_value_heads=2, rms_norm_eps=1e-5, rope_theta=20000.0,
           max_position_embeddings=512, tie_word_embeddings=False)
GRID = 4            # M = 16 latent queries (16 x 16 = 256 in the real model)
HEADS = 16          # the reference hard-codes 16 heads
MS = [2, 5, 16]
MAX_NEW = 8
MEAN = [0.48145466, 0.4578275, 0.40821073]
STD = [0.26862954, 0.26130258, 0.27577711]
SYSTEM = ("A chat between a curious user and an artificial intelligence assistant. "
          "The assistant gives helpful, detailed, and polite answers to the user's questions.")
QUESTION = "What is in the picture?"
RAW = "<image>\nDescribe it:"


def load_resampler(root: Path):
    """MQT-LLaVA's builder.py with the imports it does not use stubbed, real modules restored."""
    stubbed = ["transformers", "transformers.modeling_utils", "transformers.modeling_outputs",
               "einops", "requests", "torchvision", "torchvision.transforms"]
    saved = {n: sys.modules.get(n) for n in stubbed}
    try:
        for name in stubbed:
            sys.modules[name] = types.ModuleType(name)
        mu = sys.modules["transformers.modeling_utils"]
        for attr in ["PreTrainedModel", "apply_chunking_to_forward",
                     "find_pruneable_heads_and_indices", "prune_linear_layer"]:
            setattr(mu, attr, object)
        sys.modules["transformers.modeling_outputs"].BaseModelOutput = object
        sys.modules["einops"].rearrange = None
        sys.modules["torchvision"].transforms = sys.modules["torchvision.transforms"]
        sys.modules["torchvision.transforms"].InterpolationMode = None
        path = root / "llava/model/multimodal_projector/builder.py"
        spec = importlib.util.spec_from_file_location("mqt_reference_builder", path)
        builder = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(builder)
        return builder
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def far_from_init(module: torch.nn.Module):
    """Weights far from the customary init, so a layout mistake moves the logits far."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "norm" in name or "layrnorm" in name or name.startswith("ln_") or ".ln_" in name:
                if name.endswith("weight"):
                    p.copy_(1 + 0.3 * torch.randn_like(p))
                else:
                    p.normal_(0, 0.2)
            elif name.endswith("bias"):
                p.normal_(0, 0.1)
            elif "pos_embed" in name:
                continue
            else:
                p.normal_(0, 0.15)


def make_tokenizer(out: Path):
    from tokenizers import Tokenizer, decoders, models, normalizers, processors, trainers
    specials = ["<unk>", "<s>", "</s>"] + [f"<0x{i:02X}>" for i in range(256)]
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(),
                                     decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    corpus = [SYSTEM, QUESTION, RAW, "USER: ASSISTANT:", "a red circle and a blue square",
              "the picture shows a street with cars and people walking", "Describe it:"] * 20
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=specials, show_progress=False,
                                  limit_alphabet=60)
    tok.train_from_iterator(corpus, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)])
    tok.save(str(out / "tokenizer.json"))
    (out / "tokenizer_config.json").write_text(json.dumps({
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": None,
        "add_bos_token": True, "add_eos_token": False, "model_max_length": 2048,
        "tokenizer_class": "LlamaTokenizer"}, indent=2) + "\n")
    return tok


def tokenizer_image_token(tok, prompt):
    """LLaVA's mm_utils.tokenizer_image_token: each chunk tokenized with its BOS, BOS kept once."""
    chunks = [tok.encode(c).ids for c in prompt.split("<image>")]
    ids, offset = [], 0
    if chunks and chunks[0] and chunks[0][0] == 1:
        offset = 1
        ids.append(chunks[0][0])
    for i, c in enumerate(chunks):
        if i > 0:
            ids.extend([-200] * 1)
        ids.extend(c[offset:])
    return ids


def splice(llm, ids, image_tokens):
    """prepare_inputs_labels_for_multimodal for one image: text, the image's tokens, text."""
    at = ids.index(-200)
    embed = llm.get_input_embeddings()
    before = embed(torch.tensor(ids[:at]))
    after = embed(torch.tensor(ids[at + 1:]))
    return torch.cat([before, image_tokens, after], 0)[None]


def greedy(llm, embeds, eos=2):
    out = []
    x = embeds
    for _ in range(MAX_NEW):
        nxt = int(llm(inputs_embeds=x).logits[0, -1].argmax())
        out.append(nxt)
        if nxt == eos:
            break
        x = torch.cat([x, llm.get_input_embeddings()(torch.tensor([[nxt]]))], 1)
    return out


def main():
    from transformers import (CLIPVisionConfig, CLIPVisionModel, LlamaConfig, LlamaForCausalLM)
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    ap = argparse.ArgumentParser()
    ap.add_argument("--reference", required=True, type=Path, help="a checkout of MQT-LLaVA")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = ap.parse_args()
    builder = load_resampler(args.reference)
    torch.manual_seed(SEED)
    out = args.out
    (out / "vision").mkdir(parents=True, exist_ok=True)
    (out / "llm").mkdir(parents=True, exist_ok=True)

    # --- the vision tower folder -----------------------------------------------------------
    vcfg = CLIPVisionConfig(**VISION, attn_implementation="eager")
    vision = CLIPVisionModel(vcfg).eval()
    far_from_init(vision)
    vcfg.save_pretrained(out / "vision")
    # the key names of the released towers (openai/clip-vit-large-patch14-336: vision_model.*);
    # transformers 5 would save this bare model's keys without the prefix
    save_file({"vision_model." + k: v.contiguous() for k, v in vision.state_dict().items()},
              str(out / "vision" / "model.safetensors"), metadata={"format": "pt"})
    processor = CLIPImageProcessorPil(
        size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336},
        image_mean=MEAN, image_std=STD, resample=3, do_center_crop=True, do_resize=True,
        do_rescale=True, rescale_factor=1 / 255, do_normalize=True, do_convert_rgb=True)
    processor.save_pretrained(out / "vision")

    # --- the picture, padded as LLaVA pads it ------------------------------------------------
    rng = np.random.default_rng(SEED)
    pixels = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    pixels[100:200, 50:150] = [220, 30, 40]  # a red square: structure the resize must keep
    Image.fromarray(pixels).save(out / "image.png")
    image = Image.open(out / "image.png").convert("RGB")
    background = tuple(int(x * 255) for x in MEAN)
    w, h = image.size
    square = Image.new(image.mode, (max(w, h), max(w, h)), background)
    square.paste(image, (0, (w - h) // 2) if w > h else ((h - w) // 2, 0))
    pixel_values = processor(images=square, return_tensors="pt")["pixel_values"]  # (1, 3, 336, 336)

    with torch.no_grad():
        hidden = vision(pixel_values, output_hidden_states=True).hidden_states
        features = hidden[-2][:, 1:]  # mm_vision_select_layer -2, select_feature patch
        wrong_layer = hidden[-1][:, 1:]

    # --- the MQT block and the LLM ----------------------------------------------------------
    tok = make_tokenizer(out / "llm")
    vocab = tok.get_vocab_size()
    lcfg = LlamaConfig(vocab_size=vocab, bos_token_id=1, eos_token_id=2, pad_token_id=None,
                       attn_implementation="eager", **LLM)
    llm = LlamaForCausalLM(lcfg).eval()
    far_from_init(llm)
    resampler = builder.Resampler(grid_size=GRID, embed_dim=LLM["hidden_size"], num_heads=HEADS,
                                  kv_dim=VISION["hidden_size"])
    far_from_init(resampler)
    with torch.no_grad():
        resampler.query.normal_(0, 0.2)
        resampler.proj.normal_(0, 0.2)
    assert resampler.pos_embed.dtype == torch.float16
    state = {k: v.contiguous() for k, v in llm.state_dict().items()}
    state.update({"model.query_abstractor." + k: v.contiguous() for k, v in resampler.state_dict().items()})
    names = sorted(state)
    shards = [names[: len(names) // 2], names[len(names) // 2:]]
    index = {"metadata": {"total_size": sum(t.numel() * t.element_size() for t in state.values())},
             "weight_map": {}}
    for i, part in enumerate(shards):
        fname = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        save_file({k: state[k] for k in part}, str(out / "llm" / fname), metadata={"format": "pt"})
        for k in part:
            index["weight_map"][k] = fname
    (out / "llm" / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")
    config = {  # the keys of Vicuna-7B v1.5's config.json, as LLaVA checkpoints carry them
        "vocab_size": vocab, "hidden_size": LLM["hidden_size"],
        "intermediate_size": LLM["intermediate_size"],
        "num_hidden_layers": LLM["num_hidden_layers"],
        "num_attention_heads": LLM["num_attention_heads"],
        "num_key_value_heads": LLM["num_key_value_heads"], "hidden_act": "silu",
        "max_position_embeddings": LLM["max_position_embeddings"],
        "rms_norm_eps": LLM["rms_norm_eps"], "rope_theta": LLM["rope_theta"],
        "rope_scaling": None, "tie_word_embeddings": False, "bos_token_id": 1, "eos_token_id": 2,
        "pad_token_id": 0, "initializer_range": 0.02, "pretraining_tp": 1, "use_cache": True}
    config.update({
        "architectures": ["LlavaLlamaForCausalLM"], "model_type": "llava_llama",
        "mm_vision_tower": "openai/clip-vit-large-patch14-336", "mm_hidden_size": VISION["hidden_size"],
        "mm_vision_select_layer": -2, "mm_vision_select_feature": "patch",
        "image_aspect_ratio": "pad", "mm_patch_merge_type": "flat", "mm_use_im_start_end": False,
        "mm_use_im_patch_token": False, "query_abstractor_type": "matry_query",
        "num_visual_tokens": 256, "torch_dtype": "float32"})
    (out / "llm" / "config.json").write_text(json.dumps(config, indent=2) + "\n")

    resampler = resampler.float().eval()  # fp32 run: pos_embed keeps its fp16-rounded values
    expected = {"pixel_values": pixel_values, "features": features}
    prompt = f"{SYSTEM} USER: <image>\n{QUESTION} ASSISTANT:"
    cases = {"system": SYSTEM, "question": QUESTION, "prompt": prompt, "raw": RAW,
             "prompt_ids": tokenizer_image_token(tok, prompt),
             "raw_ids": tokenizer_image_token(tok, RAW), "greedy": {}, "raw_greedy": {}}
    with torch.no_grad():
        for m in MS:
            tokens = resampler(features, num_visual_tokens=m)  # (1, m, 48), tgt_size (24, 24)
            expected[f"tokens.m{m}"] = tokens
            embeds = splice(llm, cases["prompt_ids"], tokens[0])
            if m in (2, 16):
                expected[f"logits.m{m}"] = llm(inputs_embeds=embeds).logits
            cases["greedy"][str(m)] = greedy(llm, embeds)
            cases["raw_greedy"][str(m)] = greedy(llm, splice(llm, cases["raw_ids"], tokens[0]))
    save_file({k: v.contiguous() for k, v in expected.items()}, str(out / "expected.safetensors"))
    (out / "cases.json").write_text(json.dumps(cases, indent=2) + "\n")

    # --- deliberate mistakes: how far each moves the m = 16 logits ---------------------------
    full = expected["logits.m16"]
    mistakes = {}

    def logits_of(tokens, model=llm):
        return model(inputs_embeds=splice(model, cases["prompt_ids"], tokens[0])).logits

    def moved(name, logits):
        mistakes[name] = float((logits - full).abs().max())

    with torch.no_grad():
        moved("vision layer -1 instead of -2", logits_of(resampler(wrong_layer, num_visual_tokens=16)))
        original = builder.get_abs_pos
        builder.get_abs_pos = lambda p, t: F.interpolate(
            p.float().reshape(1, GRID, GRID, -1).permute(0, 3, 1, 2), size=t, mode="bilinear",
            align_corners=False).permute(0, 2, 3, 1).flatten(0, 2)
        moved("bilinear key-grid resize", logits_of(resampler(features, num_visual_tokens=16)))
        builder.get_abs_pos = original
        stored = resampler.pos_embed.data.clone()
        resampler.pos_embed.data = torch.from_numpy(
            builder.get_2d_sincos_pos_embed(VISION["hidden_size"], GRID)).float()
        moved("pos_embed in fp32, not fp16-rounded", logits_of(resampler(features, num_visual_tokens=16)))
        resampler.pos_embed.data = stored
        for ln in [resampler.ln_q, resampler.ln_k, resampler.ln_v]:
            ln.eps = 1e-5
        moved("MQT LayerNorm eps 1e-5", logits_of(resampler(features, num_visual_tokens=16)))
        for ln in [resampler.ln_q, resampler.ln_k, resampler.ln_v]:
            ln.eps = 1e-6
        tokens16 = expected["tokens.m16"]
        for layer in llm.model.layers:
            layer.input_layernorm.variance_epsilon = 1e-6
        moved("RMSNorm eps 1e-6 instead of the config's 1e-5", logits_of(tokens16))
        for layer in llm.model.layers:
            layer.input_layernorm.variance_epsilon = 1e-5
        import transformers.models.llama.modeling_llama as ml
        rotate_half = ml.rotate_half

        def interleaved(x):
            x1, x2 = x[..., ::2], x[..., 1::2]
            return torch.stack((-x2, x1), -1).flatten(-2)
        ml.rotate_half = interleaved
        moved("RoPE interleaved instead of rotate-half", logits_of(tokens16))
        ml.rotate_half = rotate_half
        from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding
        rotary = llm.model.rotary_emb
        llm.model.rotary_emb = LlamaRotaryEmbedding(
            LlamaConfig(vocab_size=vocab, **{**LLM, "rope_theta": 10000.0}))
        moved("rope_theta 10000 instead of the config's 20000", logits_of(tokens16))
        llm.model.rotary_emb = rotary
    (out / "mistakes.json").write_text(json.dumps(mistakes, indent=2) + "\n")
    print(json.dumps(mistakes, indent=2))
    print(json.dumps({k: cases[k] for k in ["prompt_ids", "greedy", "raw_greedy"]}))


if __name__ == "__main__":
    main()
