#!/usr/bin/env python3
"""Test tools/convert_ibm_larimar.py on a tiny seeded checkpoint with IBM Larimar's parameter names and nesting.

Python: .venv/bin/python (recreate with `bash tools/setup_venv.sh`). A few seconds; writes only to a
temporary directory; exits non-zero on failure.
  .venv/bin/python tools/train/test_convert_ibm_larimar.py
The tiny checkpoint mimics a PyTorch-Lightning save of IBM's MemVAE: {"state_dict": {"model.encoder.<BertModel
names without bert.>", "model.encoder.linear.weight", "model.decoder.transformer.*", ".transformer.linear.weight",
".transformer.linear_emb.weight", "model.decoder.lm_head.weight" (tied), "model.memory.memory_mean", ...}}.
Checks: every tensor lands under the format's name unchanged, the config is derived correctly, and the converted
model computes IBM's latent (pooler -> linear, first half) and the same decoder logits as a direct computation
with the original tensors.
"""
import json
import sys
import tempfile
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
import convert_ibm_larimar as conv  # noqa: E402
import larimar_tiny as L  # noqa: E402


def tiny_ibm_checkpoint(path: Path):
    from transformers import BertConfig, BertModel, GPT2Config, GPT2LMHeadModel
    torch.manual_seed(5)
    C, K = 8, 6
    bert = BertModel(BertConfig(vocab_size=40, hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
                                intermediate_size=64, max_position_embeddings=24, type_vocab_size=2),
                     add_pooling_layer=True)
    gpt = GPT2LMHeadModel(GPT2Config(vocab_size=50, n_embd=128, n_layer=3, n_head=2, n_positions=20))
    sd = {}
    for k, v in bert.state_dict().items():
        sd["model.encoder." + k] = v
    sd["model.encoder.linear.weight"] = torch.randn(2 * C, 128) * 0.1
    for k, v in gpt.state_dict().items():
        sd["model.decoder." + k] = v
    sd["model.decoder.transformer.linear.weight"] = torch.randn(3 * 128, C) * 0.1
    sd["model.decoder.transformer.linear_emb.weight"] = torch.randn(128, C) * 0.1
    sd["model.memory.memory_mean"] = torch.eye(K, C)
    sd["model.memory.memory_logvar"] = torch.zeros(1)
    sd["model.memory.w_logvar"] = torch.zeros(1)
    sd["model.memory.ben_cohen_memory_init"] = torch.tensor([-5.0])
    torch.save({"state_dict": sd, "epoch": 1}, path)
    return sd, bert.eval(), gpt.eval()


def main():
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sd, bert, gpt = tiny_ibm_checkpoint(tmp / "ibm.ckpt")
        (tmp / "vocab.json").write_text(json.dumps({f"t{i}": i for i in range(50)}))
        (tmp / "merges.txt").write_text("#version: 0.2\n")
        (tmp / "vocab.txt").write_text("\n".join(f"w{i}" for i in range(40)) + "\n")
        out = tmp / "converted"
        cfg = conv.main([str(tmp / "ibm.ckpt"), str(out), "--gpt2-vocab", str(tmp / "vocab.json"),
                         "--gpt2-merges", str(tmp / "merges.txt"), "--bert-vocab", str(tmp / "vocab.txt"),
                         "--encoder-heads", "2", "--decoder-heads", "2", "--bos-id", "0", "--eos-id", "0",
                         "--pad-id", "1", "--cls-id", "2", "--sep-id", "3"])
        assert cfg["latent_size"] == 8 and cfg["latent_mode"] == "kv+embedding"
        assert cfg["encoder"]["num_hidden_layers"] == 2 and cfg["decoder"]["n_layer"] == 3
        assert cfg["encoder"]["intermediate_size"] == 64 and cfg["decoder"]["n_positions"] == 20
        from safetensors.torch import load_file
        enc, dec = load_file(str(out / "encoder.safetensors")), load_file(str(out / "decoder.safetensors"))
        mem = load_file(str(out / "memory.safetensors"))
        assert torch.equal(enc["latent_head.weight"], sd["model.encoder.linear.weight"])
        assert torch.equal(enc["encoder.layer.1.output.dense.weight"],
                           sd["model.encoder.encoder.layer.1.output.dense.weight"])
        assert torch.equal(dec["latent_kv.weight"], sd["model.decoder.transformer.linear.weight"])
        assert torch.equal(dec["latent_emb.weight"], sd["model.decoder.transformer.linear_emb.weight"])
        assert torch.equal(dec["transformer.h.2.attn.c_attn.weight"],
                           sd["model.decoder.transformer.h.2.attn.c_attn.weight"])
        assert "lm_head.weight" not in dec and torch.equal(mem["memory_mean"], torch.eye(6, 8))
        assert (out / "vocab.txt").exists() and (out / "merges.txt").exists()

        model = L.load_model_dir(out)
        ids = torch.tensor([[2, 7, 9, 11, 3], [2, 5, 3, 1, 1]])
        mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
        with torch.no_grad():
            pooled = bert(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)).pooler_output
            mu_ref = (pooled @ sd["model.encoder.linear.weight"].T)[:, :8]
            mu, _ = model.encode(ids, mask)
            assert torch.allclose(mu, mu_ref, atol=1e-5), (mu - mu_ref).abs().max()
            x = torch.tensor([[0, 4, 8, 9], [0, 6, 6, 2]])
            h = (mu @ sd["model.decoder.transformer.linear.weight"].T).view(2, 3, 2, 1, 64)
            past = tuple((h[:, i], h[:, i]) for i in range(3))
            emb = gpt.transformer.wte(x) + (mu @ sd["model.decoder.transformer.linear_emb.weight"].T)[:, None]
            ref = gpt(inputs_embeds=emb, past_key_values=past, position_ids=torch.arange(1, 5)[None]).logits
            assert torch.allclose(model.decode_logits(mu, x), ref, atol=1e-5)
        print("convert_ibm_larimar: names, config and outputs match")


if __name__ == "__main__":
    main()
