#!/usr/bin/env python3
"""Convert an IBM Larimar training checkpoint (github.com/IBM/larimar, class MemVAE) to a larimar model directory.

Python: .venv/bin/python (recreate with `bash tools/setup_venv.sh`).
  .venv/bin/python tools/convert_ibm_larimar.py CKPT OUT_DIR --gpt2-vocab vocab.json --gpt2-merges merges.txt \
      --bert-vocab vocab.txt [--encoder-heads H] [--decoder-heads H] [--fp16]
Test: .venv/bin/python tools/train/test_convert_ibm_larimar.py (builds a tiny checkpoint with the same names).

Input: a torch checkpoint holding MemVAE's state dict, either plain or under "state_dict" (PyTorch Lightning), with
any leading "model." stripped. MemVAE names (read from IBM's code, larimar_base/modules/mem_vae.py and its
pytorch_transformers/modeling_{bert,gpt2}.py):
  encoder.{embeddings,encoder,pooler}.*   BertForLatentConnector (no "bert." level) -> encoder.safetensors as is
  encoder.linear.weight [2C, hidden]      -> latent_head.weight
  decoder.transformer.*                   GPT2ForLatentConnector's GPT2Model -> decoder.safetensors as is, except
  decoder.transformer.linear.weight       [n_layer*n_embd, C] -> latent_kv.weight
  decoder.transformer.linear_emb.weight   [n_embd, C]         -> latent_emb.weight ("kv+embedding" mode)
  decoder.lm_head.weight                  tied to wte: dropped after checking it equals wte
  memory.memory_mean [K, C], memory.memory_logvar [1], memory.w_logvar -> memory.safetensors (the GPM prior:
                                          M0, its log-variance, the addressing log-variance), for the memory side.
Head counts are not in the tensors: by default hidden/64 (BERT-base/large and GPT-2 all use 64-wide heads).
Writes config.json (format larimar-model v1), encoder.safetensors, decoder.safetensors, memory.safetensors and
copies the tokenizer files (GPT-2 vocab.json + merges.txt for the decoder, BERT vocab.txt for the encoder).
"""
import argparse
import json
import re
import shutil
import sys
from pathlib import Path

import torch


def load_state(path: Path):
    ck = torch.load(path, map_location="cpu")
    sd = ck.get("state_dict", ck) if isinstance(ck, dict) else ck
    out = {}
    for k, v in sd.items():
        if not torch.is_tensor(v):
            continue
        out[k[len("model."):] if k.startswith("model.") else k] = v
    return out


def split_state(sd):
    enc, dec, mem = {}, {}, {}
    for k, v in sd.items():
        if k == "encoder.linear.weight":
            enc["latent_head.weight"] = v
        elif k.startswith("encoder."):
            name = k[len("encoder."):]
            if name.endswith("position_ids") or name.endswith("token_type_ids"):
                continue  # buffers, not weights
            enc[name] = v
        elif k == "decoder.transformer.linear.weight":
            dec["latent_kv.weight"] = v
        elif k == "decoder.transformer.linear_emb.weight":
            dec["latent_emb.weight"] = v
        elif k == "decoder.lm_head.weight":
            dec["lm_head.weight"] = v
        elif k.startswith("decoder.transformer."):
            name = k[len("decoder."):]
            if re.search(r"\.attn\.(bias|masked_bias)$", name):
                continue  # causal-mask buffers of old GPT-2 code
            dec[name] = v
        elif k.startswith("memory."):
            mem[k[len("memory."):]] = v
    if "lm_head.weight" in dec:
        if not torch.equal(dec["lm_head.weight"], dec["transformer.wte.weight"]):
            raise ValueError("convert: decoder.lm_head.weight differs from wte; the format needs a tied LM head")
        del dec["lm_head.weight"]
    for need, where in (("latent_head.weight", enc), ("embeddings.word_embeddings.weight", enc),
                        ("transformer.wte.weight", dec), ("latent_kv.weight", dec)):
        if need not in where:
            raise ValueError(f"convert: the checkpoint has no tensor for {need}")
    return enc, dec, mem


def make_config(enc, dec, args):
    hidden = enc["embeddings.word_embeddings.weight"].shape[1]
    n_enc = 1 + max(int(m.group(1)) for k in enc if (m := re.match(r"encoder\.layer\.(\d+)\.", k)))
    n_dec = 1 + max(int(m.group(1)) for k in dec if (m := re.match(r"transformer\.h\.(\d+)\.", k)))
    n_embd = dec["transformer.wte.weight"].shape[1]
    C = enc["latent_head.weight"].shape[0] // 2
    if dec["latent_kv.weight"].shape != (n_dec * n_embd, C):
        raise ValueError(f"convert: latent_kv is {tuple(dec['latent_kv.weight'].shape)}, expected "
                         f"{(n_dec * n_embd, C)}")
    return {
        "format": "larimar-model", "version": 1, "latent_size": C,
        "latent_mode": "kv+embedding" if "latent_emb.weight" in dec else "kv",
        "encoder": {"vocab_size": enc["embeddings.word_embeddings.weight"].shape[0], "hidden_size": hidden,
                    "num_hidden_layers": n_enc, "num_attention_heads": args.encoder_heads or hidden // 64,
                    "intermediate_size": enc["encoder.layer.0.intermediate.dense.weight"].shape[0],
                    "max_position_embeddings": enc["embeddings.position_embeddings.weight"].shape[0],
                    "type_vocab_size": enc["embeddings.token_type_embeddings.weight"].shape[0],
                    "layer_norm_eps": 1e-12, "pooling": "cls_tanh", "tokenizer": "wordpiece",
                    "lowercase": not args.cased, "cls_token_id": args.cls_id, "sep_token_id": args.sep_id,
                    "pad_token_id": 0},
        "decoder": {"vocab_size": dec["transformer.wte.weight"].shape[0], "n_embd": n_embd, "n_layer": n_dec,
                    "n_head": args.decoder_heads or n_embd // 64,
                    "n_positions": dec["transformer.wpe.weight"].shape[0], "layer_norm_epsilon": 1e-5,
                    "tokenizer": "bpe", "bos_token_id": args.bos_id, "eos_token_id": args.eos_id,
                    "pad_token_id": args.pad_id},
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--gpt2-vocab", type=Path, required=True)
    p.add_argument("--gpt2-merges", type=Path, required=True)
    p.add_argument("--bert-vocab", type=Path, required=True)
    p.add_argument("--encoder-heads", type=int, default=0)
    p.add_argument("--decoder-heads", type=int, default=0)
    p.add_argument("--cased", action="store_true", help="BERT vocabulary is cased (default: uncased)")
    p.add_argument("--cls-id", type=int, default=101)
    p.add_argument("--sep-id", type=int, default=102)
    p.add_argument("--bos-id", type=int, default=50256)
    p.add_argument("--eos-id", type=int, default=50256)
    p.add_argument("--pad-id", type=int, default=50257, help="IBM's training adds <PAD> after <|endoftext|>")
    p.add_argument("--fp16", action="store_true")
    a = p.parse_args(argv)
    from safetensors.torch import save_file
    enc, dec, mem = split_state(load_state(a.checkpoint))
    cfg = make_config(enc, dec, a)
    dt = torch.float16 if a.fp16 else torch.float32
    a.out.mkdir(parents=True, exist_ok=True)
    cast = lambda d: {k: v.to(dt).contiguous() for k, v in d.items()}  # noqa: E731
    save_file(cast(enc), str(a.out / "encoder.safetensors"), metadata={"format": "pt"})
    save_file(cast(dec), str(a.out / "decoder.safetensors"), metadata={"format": "pt"})
    if mem:
        save_file({k: v.float().contiguous() for k, v in mem.items()}, str(a.out / "memory.safetensors"),
                  metadata={"format": "pt", "source": "IBM Larimar GPM prior"})
    (a.out / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    shutil.copyfile(a.gpt2_vocab, a.out / "vocab.json")
    shutil.copyfile(a.gpt2_merges, a.out / "merges.txt")
    shutil.copyfile(a.bert_vocab, a.out / "vocab.txt")
    print(json.dumps(cfg, indent=1))
    return cfg


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
