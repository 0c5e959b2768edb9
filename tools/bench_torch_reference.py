#!/usr/bin/env python3
"""PyTorch side of the issue-3 CPU benchmarks: HF transformers timings on seeded random GPT-2-small / BERT-base weights.

Run:   .venv/bin/python tools/bench_torch_reference.py [MODEL_DIR] [--seed 0] [--threads 2] [--json-out FILE]
       (the venv comes from `bash tools/setup_venv.sh`: Debian torch + PyPI transformers<4.45, safetensors)
Writes MODEL_DIR (default build-bench/models/gpt2-small-random under this checkout's root, where
build/bench/bench_model looks for it), a larimar model directory
(the model directory format the runtime and the training scripts share) without tokenizer files (ids only):
  config.json           latent_mode "kv", latent_size 768
  decoder.safetensors   GPT2LMHeadModel (n_layer 12, n_embd 768, n_head 12, vocab 50257, n_positions 1024) state
                        dict, f32, tied LM head omitted, plus latent_kv.weight [12*768, 768]
  encoder.safetensors   BertModel (BERT-base: 12 layers, hidden 768, 12 heads, intermediate 3072, vocab 30522)
                        state dict without a "bert." prefix, f32, plus latent_head.weight [2*768, 768]
  prompts.json          the token ids the timings used (so the C++ benchmark can use the same prompts)
then times, with torch.set_num_threads(THREADS) and torch.inference_mode(), on the same weights:
  decode   batch 1, 32-token prompt, 128 greedy tokens with the KV cache (a hand loop of single-token forwards
           with past_key_values; tokens/s over the 128 steps, the prompt's prefill excluded);
  generate HF generate()'s end-to-end rate for the same request (prefill included);
  prefill  one 512-token prompt, batch 1, use_cache=True: tokens/s;
  encoder  BertModel + pooler + latent head on a batch of 32 sentences x 32 tokens: sentences/s.
Each figure is the median of several timed runs after one warm-up. Prints one JSON object (also to --json-out),
with the load average before and after: on a shared 2-core machine other processes distort these figures badly
(OpenMP threads that wait for each other), so run it side by side with the C++ benchmark under the same load.
--only picks a subset; --no-save times without rewriting the model directory; --save-only writes it and times
nothing (what scripts/bench.sh and tools/bench_llama_cpp.sh use).
Random weights are drawn with torch.manual_seed(SEED) through HF's own initialisers (normal, std 0.02).
"""
import argparse
import json
import os
import platform
import statistics
import time
from datetime import datetime, timezone

import torch
import transformers
from safetensors.torch import save_file
from transformers import BertConfig, BertModel, GPT2Config, GPT2LMHeadModel

LATENT = 768
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_MODEL_DIR = os.path.join(REPO, "build-bench", "models", "gpt2-small-random")


def float_state(module: torch.nn.Module, drop=()) -> dict:
    """The module's floating-point state dict, contiguous and unshared (safetensors refuses aliases)."""
    return {k: v.detach().contiguous().clone() for k, v in module.state_dict().items()
            if v.is_floating_point() and k not in drop}


def build_models(seed: int):
    torch.manual_seed(seed)
    gpt2_cfg = GPT2Config(n_layer=12, n_embd=768, n_head=12, vocab_size=50257, n_positions=1024,
                          layer_norm_epsilon=1e-5, bos_token_id=50256, eos_token_id=50256)
    decoder = GPT2LMHeadModel(gpt2_cfg).eval()
    bert_cfg = BertConfig(vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                          intermediate_size=3072, max_position_embeddings=512, type_vocab_size=2,
                          layer_norm_eps=1e-12, pad_token_id=0)
    encoder = BertModel(bert_cfg, add_pooling_layer=True).eval()
    latent_kv = torch.nn.Linear(LATENT, gpt2_cfg.n_layer * gpt2_cfg.n_embd, bias=False)
    latent_head = torch.nn.Linear(bert_cfg.hidden_size, 2 * LATENT, bias=False)
    for lin in (latent_kv, latent_head):
        torch.nn.init.normal_(lin.weight, std=0.02)
    return gpt2_cfg, decoder, bert_cfg, encoder, latent_kv.eval(), latent_head.eval()


def save_model_dir(out, gpt2_cfg, decoder, bert_cfg, encoder, latent_kv, latent_head, prompts):
    os.makedirs(out, exist_ok=True)
    dec = float_state(decoder, drop={"lm_head.weight"})  # tied to transformer.wte.weight
    dec["latent_kv.weight"] = latent_kv.weight.detach().contiguous().clone()
    enc = float_state(encoder)
    enc["latent_head.weight"] = latent_head.weight.detach().contiguous().clone()
    meta = {"format": "pt", "origin": "tools/bench_torch_reference.py"}
    save_file(dec, os.path.join(out, "decoder.safetensors"), metadata=meta)
    save_file(enc, os.path.join(out, "encoder.safetensors"), metadata=meta)
    config = {
        "format": "larimar-model", "version": 1,
        "latent_size": LATENT,
        "latent_mode": "kv",
        "encoder": {"vocab_size": bert_cfg.vocab_size, "hidden_size": bert_cfg.hidden_size,
                    "num_hidden_layers": bert_cfg.num_hidden_layers,
                    "num_attention_heads": bert_cfg.num_attention_heads,
                    "intermediate_size": bert_cfg.intermediate_size,
                    "max_position_embeddings": bert_cfg.max_position_embeddings,
                    "type_vocab_size": bert_cfg.type_vocab_size, "layer_norm_eps": bert_cfg.layer_norm_eps,
                    "pooling": "cls_tanh", "tokenizer": "wordpiece", "lowercase": True,
                    "cls_token_id": 101, "sep_token_id": 102, "pad_token_id": 0},
        "decoder": {"vocab_size": gpt2_cfg.vocab_size, "n_embd": gpt2_cfg.n_embd, "n_layer": gpt2_cfg.n_layer,
                    "n_head": gpt2_cfg.n_head, "n_positions": gpt2_cfg.n_positions,
                    "layer_norm_epsilon": gpt2_cfg.layer_norm_epsilon, "tokenizer": "bpe",
                    "bos_token_id": 50256, "eos_token_id": 50256, "pad_token_id": 50256},
    }
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    with open(os.path.join(out, "prompts.json"), "w") as f:
        json.dump(prompts, f)
        f.write("\n")


def timed(fn, repeats):
    fn()  # warm-up: allocator, thread pool, first-touch of the weights
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return runs


def bench_decode(decoder, prompt_ids, new_tokens, repeats):
    ids = torch.tensor([prompt_ids])
    step_times = []

    def run():
        out = decoder(input_ids=ids, use_cache=True)  # prefill (not counted in the decode rate)
        past = out.past_key_values
        token = out.logits[:, -1, :].argmax(-1, keepdim=True)
        t0 = time.perf_counter()
        for _ in range(new_tokens):
            out = decoder(input_ids=token, past_key_values=past, use_cache=True)
            past = out.past_key_values
            token = out.logits[:, -1, :].argmax(-1, keepdim=True)
        step_times.append(time.perf_counter() - t0)

    timed(run, repeats)
    decode_runs = step_times[1:]  # drop the warm-up
    tps = [new_tokens / t for t in decode_runs]
    return {"prompt_tokens": len(prompt_ids), "new_tokens": new_tokens, "batch": 1,
            "tokens_per_s": statistics.median(tps), "tokens_per_s_runs": tps}


def bench_generate(decoder, prompt_ids, new_tokens, repeats):
    ids = torch.tensor([prompt_ids])

    def run():
        decoder.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens,
                         min_new_tokens=new_tokens, do_sample=False, pad_token_id=50256)

    runs = timed(run, repeats)
    tps = [new_tokens / t for t in runs]
    return {"prompt_tokens": len(prompt_ids), "new_tokens": new_tokens, "batch": 1,
            "tokens_per_s": statistics.median(tps), "tokens_per_s_runs": tps,
            "note": "HF generate() end to end (greedy), the prompt's prefill included"}


def bench_prefill(decoder, prompt_ids, repeats):
    ids = torch.tensor([prompt_ids])
    runs = timed(lambda: decoder(input_ids=ids, use_cache=True), repeats)
    tps = [len(prompt_ids) / t for t in runs]
    return {"prompt_tokens": len(prompt_ids), "batch": 1, "tokens_per_s": statistics.median(tps),
            "tokens_per_s_runs": tps}


def bench_encoder(encoder, latent_head, batch_ids, repeats):
    ids = torch.tensor(batch_ids)
    mask = torch.ones_like(ids)
    types = torch.zeros_like(ids)

    def run():
        pooled = encoder(input_ids=ids, attention_mask=mask, token_type_ids=types).pooler_output
        return latent_head(pooled)[:, :LATENT]

    runs = timed(run, repeats)
    sps = [len(batch_ids) / t for t in runs]
    return {"batch": len(batch_ids), "tokens_per_sentence": len(batch_ids[0]),
            "sentences_per_s": statistics.median(sps), "sentences_per_s_runs": sps}


def main() -> None:
    parser = argparse.ArgumentParser(description="HF transformers reference timings for the issue-3 benchmarks")
    parser.add_argument("model_dir", nargs="?", default=DEFAULT_MODEL_DIR)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per figure (after one warm-up)")
    parser.add_argument("--json-out", default=None, help="also write the JSON here")
    parser.add_argument("--no-save", action="store_true", help="time only; do not (re)write the model directory")
    parser.add_argument("--save-only", action="store_true", help="write the model directory and time nothing")
    parser.add_argument("--only", default="decode,generate,prefill,encoder",
                        help="comma-separated subset of: decode, generate, prefill, encoder")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    gpt2_cfg, decoder, bert_cfg, encoder, latent_kv, latent_head = build_models(args.seed)
    gen = torch.Generator().manual_seed(args.seed + 1)
    prompts = {
        "decode_prompt": torch.randint(0, gpt2_cfg.vocab_size, (32,), generator=gen).tolist(),
        "prefill_prompt": torch.randint(0, gpt2_cfg.vocab_size, (512,), generator=gen).tolist(),
        # [CLS] 30 random word ids [SEP], 32 sentences
        "encoder_batch": [[101] + torch.randint(1000, bert_cfg.vocab_size, (30,), generator=gen).tolist() + [102]
                          for _ in range(32)],
    }
    if not args.no_save:
        save_model_dir(args.model_dir, gpt2_cfg, decoder, bert_cfg, encoder, latent_kv, latent_head, prompts)
    if args.save_only:
        print(f"wrote {os.path.abspath(args.model_dir)} (seed {args.seed})")
        return

    only = set(args.only.split(","))
    unknown = only - {"decode", "generate", "prefill", "encoder"}
    if unknown:
        parser.error(f"--only: unknown benchmark(s) {sorted(unknown)}")
    with torch.inference_mode():
        result = {
            "what": "HF transformers reference timings, random weights (GPT-2-small shapes, BERT-base encoder)",
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": {"cpu": platform.processor() or platform.machine(), "os_cpus": os.cpu_count(),
                        "torch_threads": torch.get_num_threads()},
            "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                         "python": platform.python_version()},
            "model_dir": os.path.abspath(args.model_dir),
            "seed": args.seed,
            "dtype": "f32",
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(unset)"),
            "load_average_at_start": os.getloadavg()[0],
        }
        if "decode" in only:
            result["decode"] = bench_decode(decoder, prompts["decode_prompt"], 128, args.repeats)
        if "generate" in only:
            result["generate"] = bench_generate(decoder, prompts["decode_prompt"], 128, max(1, args.repeats // 2))
        if "prefill" in only:
            result["prefill"] = bench_prefill(decoder, prompts["prefill_prompt"], args.repeats)
        if "encoder" in only:
            result["encoder"] = bench_encoder(encoder, latent_head, prompts["encoder_batch"], args.repeats + 2)
        result["load_average_at_end"] = os.getloadavg()[0]
    text = json.dumps(result, indent=2)
    print(text)
    if args.json_out:
        with open(args.json_out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
