#!/usr/bin/env python3
"""Reference fixtures for the C++ GPT-2 decoder and BERT encoder (include/larimar/model/).

How to run (from the repository root; the venv comes from `bash tools/setup_venv.sh`):
    .venv/bin/python tools/make_model_fixtures.py [--out test/fixtures/model]

Seeded (torch.manual_seed(20240611)), so the output is reproducible on the same torch/transformers versions.
It builds a tiny random Hugging Face GPT2LMHeadModel and BertModel with odd sizes, adds the Larimar weights
(latent_kv, latent_emb, latent_head) and writes, under --out:
  tiny/config.json             our model format (docs/model.md, latent_mode "kv+embedding")
  tiny/encoder.safetensors     BertModel state dict (no "bert." prefix) + latent_head.weight, f32
  tiny/decoder.safetensors     GPT2LMHeadModel state dict (transformer.*, no lm_head: tied) + latent_kv/latent_emb, f32
  tiny-f16/, tiny-bf16/        config.json + decoder.safetensors: the same decoder stored as f16 / bf16
  expected.safetensors         reference outputs (f32), names below
  expected.json                inputs (token ids, masks) and greedy continuations (ids)

Reference outputs (all computed by transformers in f32, eval mode, no dropout):
  dec.plain.p{i}              [T_i, V] logits of prompt i without a latent (positions 0..T-1)
  dec.kv.p{i}                 [T_i, V] logits with latent z_i in "kv" mode: HF forward with
                              past_key_values = ((h_l, h_l) per layer, h_l = latent_kv(z)[l] split into heads),
                              position_ids = 1..T, attention_mask = ones(1, 1 + T)
  dec.emb.p{i}                [T_i, V] as dec.kv plus inputs_embeds = wte(ids) + latent_emb(z) ("kv+embedding")
  dec.latent.z{i}             [C] the latents used above
  dec.slots.p{i}              [T_i, V] "kv+embedding" logits of the tiny-slots decoder (latent_slots 3, latent_kv
                              with a bias, f16 weights; reference in f32 with the rounded weights)
  dec.f16.emb.p0 / dec.bf16.emb.p0   [T_0, V] the "kv+embedding" logits of prompt 0 with the f16/bf16-rounded
                              weights (computed in f32), to check that the stored copies load exactly
  enc.hidden                  [B, T, H] last hidden states of the padded batch (padding rows are HF's values
                              and are not compared)
  enc.pooled                  [B, H] BERT tanh pooler output
  enc.latent.cls              [B, 2C] latent_head(pooled)            (pooling "cls_tanh")
  enc.latent.mean             [B, 2C] latent_head(masked mean of hidden) (pooling "mean")
Greedy continuations in expected.json ("greedy"): per prompt and mode, max_new_tokens argmax steps with the
cache (HF past_key_values), the same conditioning as above; the embedding mode adds latent_emb(z) to each new
token's input embedding too.
"""
import argparse
import json
import os

import torch
from safetensors.torch import save_file
from transformers import BertConfig, BertModel, GPT2Config, GPT2LMHeadModel

SEED = 20240611
LATENT = 20
GREEDY_NEW = 12


def randomize(module, weight_std):
    """HF's init (std 0.02, LayerNorm = identity) gives near-flat logits; spread every parameter so the
    comparison exercises biases and LayerNorm affine terms and greedy argmaxes are well separated."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "LayerNorm" in name or ".ln_" in name or name.startswith("ln_") or "ln_f" in name:
                if name.endswith("weight"):
                    p.copy_(1.0 + 0.2 * torch.randn_like(p))
                else:
                    p.copy_(0.1 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
            else:
                p.copy_(weight_std * torch.randn_like(p))


def gpt2_past(model, h, slots=1):
    """past_key_values for a latent projection h = latent_kv(z) of shape [B, n_layer * slots * n_embd]: layer l,
    slot s is h[:, (l*slots + s)*n_embd : ...], split into heads (docs/model.md)."""
    cfg = model.config
    hd = cfg.n_embd // cfg.n_head
    past = []
    for layer in range(cfg.n_layer):
        w = slots * cfg.n_embd
        hl = h[:, layer * w:(layer + 1) * w].reshape(h.shape[0], slots, cfg.n_head, hd).transpose(1, 2)
        past.append((hl, hl))
    return tuple(past)


def gpt2_logits(model, ids, latent_kv=None, latent_emb=None, z=None, slots=1):
    """All-position logits for one prompt, plain or Larimar-conditioned (docs/model.md)."""
    ids = torch.tensor([ids])
    T = ids.shape[1]
    if z is None:
        return model(input_ids=ids).logits[0]
    h = latent_kv(z[None])
    emb = model.transformer.wte(ids)
    if latent_emb is not None:
        emb = emb + latent_emb(z)[None, None]
    out = model(inputs_embeds=emb, past_key_values=gpt2_past(model, h, slots),
                position_ids=torch.arange(slots, T + slots)[None], attention_mask=torch.ones(1, slots + T))
    return out.logits[0]


def gpt2_greedy(model, ids, n_new, latent_kv=None, latent_emb=None, z=None, slots=1):
    """Greedy continuation with the cache, conditioned like gpt2_logits."""
    offset = 0 if z is None else slots
    past = None if z is None else gpt2_past(model, latent_kv(z[None]), slots)
    extra = None if (z is None or latent_emb is None) else latent_emb(z)[None, None]
    out_ids = []
    cur = list(ids)
    start = 0
    for _ in range(n_new):
        step = torch.tensor([cur[start:]])
        emb = model.transformer.wte(step)
        if extra is not None:
            emb = emb + extra
        pos = torch.arange(start + offset, len(cur) + offset)[None]
        mask = torch.ones(1, len(cur) + offset)
        out = model(inputs_embeds=emb, past_key_values=past, position_ids=pos, attention_mask=mask, use_cache=True)
        past = out.past_key_values
        top2 = torch.topk(out.logits[0, -1], 2).values
        assert float(top2[0] - top2[1]) > 1e-3, "greedy step too close to a tie for a 1e-4 comparison"
        nxt = int(torch.argmax(out.logits[0, -1]))
        out_ids.append(nxt)
        start = len(cur)
        cur.append(nxt)
    return out_ids


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "model"))
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    torch.manual_seed(SEED)
    torch.set_grad_enabled(False)

    # ---- decoder: 3 layers, 4 heads (head_dim 20), d_model 80, vocab 1000, 48 positions
    gcfg = GPT2Config(vocab_size=1000, n_positions=48, n_embd=80, n_layer=3, n_head=4,
                      activation_function="gelu_new", resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                      layer_norm_epsilon=1e-5, bos_token_id=1, eos_token_id=2)
    gpt2 = GPT2LMHeadModel(gcfg).eval()
    randomize(gpt2, 0.12)
    latent_kv = torch.nn.Linear(LATENT, gcfg.n_layer * gcfg.n_embd, bias=False)
    latent_emb = torch.nn.Linear(LATENT, gcfg.n_embd, bias=False)
    with torch.no_grad():
        latent_kv.weight.copy_(0.3 * torch.randn_like(latent_kv.weight))
        latent_emb.weight.copy_(0.05 * torch.randn_like(latent_emb.weight))

    # ---- encoder: 3 layers, 6 heads (head_dim 12), hidden 72, intermediate 148
    bcfg = BertConfig(vocab_size=1000, hidden_size=72, num_hidden_layers=3, num_attention_heads=6,
                      intermediate_size=148, max_position_embeddings=48, type_vocab_size=2,
                      layer_norm_eps=1e-12, hidden_act="gelu", hidden_dropout_prob=0.0,
                      attention_probs_dropout_prob=0.0, pad_token_id=0)
    bert = BertModel(bcfg, add_pooling_layer=True).eval()
    randomize(bert, 0.12)
    latent_head = torch.nn.Linear(bcfg.hidden_size, 2 * LATENT, bias=False)
    with torch.no_grad():
        latent_head.weight.copy_(0.2 * torch.randn_like(latent_head.weight))

    expected = {}
    info = {"seed": SEED, "latent_size": LATENT, "greedy_new_tokens": GREEDY_NEW}

    # ---- decoder references
    lengths = [7, 12, 3]
    prompts = [torch.randint(3, gcfg.vocab_size, (n,)).tolist() for n in lengths]
    latents = [torch.randn(LATENT) for _ in prompts]
    info["prompts"] = prompts
    greedy = {"plain": [], "kv": [], "emb": []}
    for i, (p, z) in enumerate(zip(prompts, latents)):
        expected[f"dec.latent.z{i}"] = z
        expected[f"dec.plain.p{i}"] = gpt2_logits(gpt2, p)
        expected[f"dec.kv.p{i}"] = gpt2_logits(gpt2, p, latent_kv, None, z)
        expected[f"dec.emb.p{i}"] = gpt2_logits(gpt2, p, latent_kv, latent_emb, z)
        greedy["plain"].append(gpt2_greedy(gpt2, p, GREEDY_NEW))
        greedy["kv"].append(gpt2_greedy(gpt2, p, GREEDY_NEW, latent_kv, None, z))
        greedy["emb"].append(gpt2_greedy(gpt2, p, GREEDY_NEW, latent_kv, latent_emb, z))
        # the cached loop must reproduce the one-shot logits' argmax for the first new token
        assert greedy["kv"][-1][0] == int(torch.argmax(expected[f"dec.kv.p{i}"][-1]))
    info["greedy"] = greedy

    dec_tensors = {k: v.contiguous() for k, v in gpt2.state_dict().items() if k != "lm_head.weight"}
    dec_tensors["latent_kv.weight"] = latent_kv.weight.detach().contiguous()
    dec_tensors["latent_emb.weight"] = latent_emb.weight.detach().contiguous()

    # f16 / bf16 copies: reference = f32 computation with the rounded weights
    for tag, dt in (("f16", torch.float16), ("bf16", torch.bfloat16)):
        rounded = {k: v.to(dt).to(torch.float32) for k, v in dec_tensors.items()}
        g2 = GPT2LMHeadModel(gcfg).eval()
        g2.load_state_dict({k: v for k, v in rounded.items() if k.startswith("transformer.")}, strict=False)
        g2.tie_weights()
        lk = torch.nn.Linear(LATENT, gcfg.n_layer * gcfg.n_embd, bias=False)
        le = torch.nn.Linear(LATENT, gcfg.n_embd, bias=False)
        lk.weight.copy_(rounded["latent_kv.weight"])
        le.weight.copy_(rounded["latent_emb.weight"])
        expected[f"dec.{tag}.emb.p0"] = gpt2_logits(g2, prompts[0], lk, le, latents[0])
        d = os.path.join(out, f"tiny-{tag}")
        os.makedirs(d, exist_ok=True)
        save_file({k: v.to(dt).contiguous() for k, v in dec_tensors.items()}, os.path.join(d, "decoder.safetensors"))

    # ---- encoder references: a right-padded batch with token types
    blens = [9, 5, 13]
    T = max(blens)
    ids = torch.zeros(len(blens), T, dtype=torch.long)
    mask = torch.zeros(len(blens), T, dtype=torch.long)
    types = torch.zeros(len(blens), T, dtype=torch.long)
    for b, n in enumerate(blens):
        ids[b, :n] = torch.randint(5, bcfg.vocab_size, (n,))
        mask[b, :n] = 1
    types[0, 5:9] = 1
    types[2, 7:13] = 1
    bo = bert(input_ids=ids, attention_mask=mask, token_type_ids=types)
    hidden = bo.last_hidden_state
    pooled = bo.pooler_output
    mean = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    expected["enc.hidden"] = hidden
    expected["enc.pooled"] = pooled
    expected["enc.latent.cls"] = latent_head(pooled)
    expected["enc.latent.mean"] = latent_head(mean)
    info["encoder_batch"] = {"input_ids": ids.tolist(), "attention_mask": mask.tolist(),
                             "token_type_ids": types.tolist(), "lengths": blens}

    enc_tensors = {k: v.contiguous() for k, v in bert.state_dict().items()}
    enc_tensors["latent_head.weight"] = latent_head.weight.detach().contiguous()

    config = {
        "format": "larimar-model", "version": 1, "latent_size": LATENT, "latent_mode": "kv+embedding",
        "encoder": {"vocab_size": bcfg.vocab_size, "hidden_size": bcfg.hidden_size,
                    "num_hidden_layers": bcfg.num_hidden_layers, "num_attention_heads": bcfg.num_attention_heads,
                    "intermediate_size": bcfg.intermediate_size,
                    "max_position_embeddings": bcfg.max_position_embeddings,
                    "type_vocab_size": bcfg.type_vocab_size, "layer_norm_eps": bcfg.layer_norm_eps,
                    "pooling": "cls_tanh", "tokenizer": "wordpiece", "lowercase": True,
                    "cls_token_id": 3, "sep_token_id": 4, "pad_token_id": 0},
        "decoder": {"vocab_size": gcfg.vocab_size, "n_embd": gcfg.n_embd, "n_layer": gcfg.n_layer,
                    "n_head": gcfg.n_head, "n_positions": gcfg.n_positions,
                    "layer_norm_epsilon": gcfg.layer_norm_epsilon, "tokenizer": "bpe",
                    "bos_token_id": gcfg.bos_token_id, "eos_token_id": gcfg.eos_token_id, "pad_token_id": 0},
    }
    d = os.path.join(out, "tiny")
    os.makedirs(d, exist_ok=True)
    save_file(dec_tensors, os.path.join(d, "decoder.safetensors"))
    save_file(enc_tensors, os.path.join(d, "encoder.safetensors"))
    for sub in ("tiny", "tiny-f16", "tiny-bf16"):
        with open(os.path.join(out, sub, "config.json"), "w") as f:
            json.dump(config, f, indent=2)
    # ---- a decoder whose latent fills SLOTS cache slots per layer, with the slot bias (larimar-small's shape):
    # the same GPT-2 weights, a new latent_kv [n_layer*SLOTS*n_embd, C] + bias; stored in f16 (a smaller
    # fixture), references computed in f32 with the f16-rounded weights. Drawn last: the other outputs keep
    # their values.
    SLOTS = 3
    lk = torch.nn.Linear(LATENT, gcfg.n_layer * SLOTS * gcfg.n_embd, bias=True)
    with torch.no_grad():
        lk.weight.copy_(0.3 * torch.randn_like(lk.weight))
        lk.bias.copy_(0.5 * torch.randn_like(lk.bias))
    slot_tensors = dict(dec_tensors)
    slot_tensors["latent_kv.weight"] = lk.weight.detach().contiguous()
    slot_tensors["latent_kv.bias"] = lk.bias.detach().contiguous()
    rounded = {k: v.to(torch.float16).to(torch.float32) for k, v in slot_tensors.items()}
    g3 = GPT2LMHeadModel(gcfg).eval()
    g3.load_state_dict({k: v for k, v in rounded.items() if k.startswith("transformer.")}, strict=False)
    g3.tie_weights()
    with torch.no_grad():
        lk.weight.copy_(rounded["latent_kv.weight"])
        lk.bias.copy_(rounded["latent_kv.bias"])
    le = torch.nn.Linear(LATENT, gcfg.n_embd, bias=False)
    with torch.no_grad():
        le.weight.copy_(rounded["latent_emb.weight"])
    info["latent_slots"] = SLOTS
    greedy["slots"] = []
    for i, (p, z) in enumerate(zip(prompts, latents)):
        expected[f"dec.slots.p{i}"] = gpt2_logits(g3, p, lk, le, z, SLOTS)
        greedy["slots"].append(gpt2_greedy(g3, p, GREEDY_NEW, lk, le, z, SLOTS))
    d = os.path.join(out, "tiny-slots")
    os.makedirs(d, exist_ok=True)
    save_file({k: v.to(torch.float16).contiguous() for k, v in slot_tensors.items()},
              os.path.join(d, "decoder.safetensors"))
    slot_config = {k: v for k, v in config.items() if k != "encoder"}
    slot_config["latent_slots"] = SLOTS
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(slot_config, f, indent=2)

    save_file({k: v.detach().to(torch.float32).contiguous() for k, v in expected.items()},
              os.path.join(out, "expected.safetensors"))
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(info, f)
    print("wrote", out)


if __name__ == "__main__":
    main()
