#!/usr/bin/env python3
"""The GPT-2-small decoder of the benchmark model directory, as a Hugging Face GPT-2 directory (for llama.cpp).

Run:   .venv/bin/python tools/make_gpt2_hf_dir.py [--model-dir DIR] [--out OUT]
       MODEL_DIR defaults to build-bench/models/gpt2-small-random (written by tools/bench_torch_reference.py, the
       directory build/bench/bench_model reads); OUT defaults to MODEL_DIR/hf.
Writes OUT/config.json (GPT2Config), OUT/model.safetensors (the decoder's tensors exactly as bench_model loads them,
f32, without the latent projection larimar adds) and a byte-level BPE tokenizer (vocab.json: the 256 byte tokens
and <|endoftext|>, and one merge, "Ġ t": llama.cpp refuses a BPE model without merges). The benchmarks feed token ids, never text, so the tokenizer only has to
let converters read the directory; ids past it are left unused (llama.cpp's converter pads them as [PADn]).
"""
import argparse
import json
import os

from safetensors import safe_open
from safetensors.torch import save_file
from transformers import GPT2Config
from transformers.models.gpt2.tokenization_gpt2 import bytes_to_unicode

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_MODEL_DIR = os.path.join(REPO, "build-bench", "models", "gpt2-small-random")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default=DEFAULT_MODEL_DIR)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    out = args.out or os.path.join(args.model_dir, "hf")

    with open(os.path.join(args.model_dir, "config.json")) as f:
        dec = json.load(f)["decoder"]
    tensors = {}
    with safe_open(os.path.join(args.model_dir, "decoder.safetensors"), framework="pt") as f:
        for name in f.keys():
            if name.startswith("latent_"):
                continue  # larimar's latent projection: not part of GPT-2
            tensors[name] = f.get_tensor(name).float().contiguous()
    if "transformer.wte.weight" not in tensors:
        raise SystemExit(f"{args.model_dir}/decoder.safetensors holds no transformer.wte.weight: not a GPT-2 decoder")

    os.makedirs(out, exist_ok=True)
    cfg = GPT2Config(vocab_size=dec["vocab_size"], n_positions=dec["n_positions"], n_embd=dec["n_embd"],
                     n_layer=dec["n_layer"], n_head=dec["n_head"], layer_norm_epsilon=dec["layer_norm_epsilon"],
                     bos_token_id=dec.get("bos_token_id", 50256), eos_token_id=dec.get("eos_token_id", 50256))
    cfg.n_ctx = dec["n_positions"]  # as in the released GPT-2 configs (llama.cpp reads it)
    cfg.architectures = ["GPT2LMHeadModel"]
    cfg.tie_word_embeddings = True
    cfg.to_json_file(os.path.join(out, "config.json"))
    save_file(tensors, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})

    byte_tokens = list(bytes_to_unicode().values())
    vocab = {tok: i for i, tok in enumerate(byte_tokens)}
    eos = dec.get("eos_token_id", 50256)
    vocab["<|endoftext|>"] = eos if eos >= len(byte_tokens) else len(byte_tokens)
    vocab["Ġt"] = next(i for i in range(len(byte_tokens), len(byte_tokens) + 2) if i != vocab["<|endoftext|>"])
    with open(os.path.join(out, "vocab.json"), "w") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(out, "merges.txt"), "w") as f:
        f.write("#version: 0.2\nĠ t\n")
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "GPT2Tokenizer", "model_max_length": dec["n_positions"],
                   "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}, f)
    print(f"wrote {out} ({len(tensors)} tensors)")


if __name__ == "__main__":
    main()
