#!/usr/bin/env python3
"""Check that a stopped run continues exactly: N steps in one go == N/2 steps, stop, resume to N (bitwise).

Python: .venv/bin/python (recreate with `bash tools/setup_venv.sh`). Runs a tiny model on 1 thread in a
temporary directory (about 20 s); exits non-zero on any difference. Also checks the export round trip
(save_model_dir -> load_model_dir gives the same latents and logits) and the format's tensor names.
  .venv/bin/python tools/train/test_resume.py
"""
import json
import math
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import larimar_tiny as L  # noqa: E402
import train as T  # noqa: E402

TINY = ["--threads", "1", "--d-model", "32", "--latent", "16", "--heads", "2", "--batch", "8", "--vocab", "400",
        "--eval-every", "1000000", "--warmup", "3", "--word-dropout", "0.3", "--curriculum-start", "8",
        "--curriculum-steps", "6", "--memory-weight", "0.5", "--episode", "4", "--slots", "8",
        "--pooling", "positions", "--scramble-prob", "0.3"]


def resume_debian(tmp: Path):
    """The same bitwise check for larimar-small's data path (--corpus debian: packed segments, items, buckets) on a
    pool made from the fortune documents alone."""
    import debian_text
    import segments as S
    docs = [d for name, d in debian_text.fortunes() if d and not debian_text.heldout("fortunes", name)]
    held = [d for name, d in debian_text.fortunes() if d and debian_text.heldout("fortunes", name)]
    tok = L.train_tokenizer([x for d in docs for x in d], 400, tmp / "tok")
    data = {**S.build_pool(tok, docs, 24), "eval": S.make_eval_sets(tok, held, 24, size=4),
            "words": S.dictionary_words(), "names": S.capitalised_words()}
    (tmp / "data.json").write_text(json.dumps(data))
    small = TINY[:-4] + ["--corpus", "debian", "--max-tokens", "24", "--dec-positions", "52", "--latent-slots", "3",
                         "--pooling", "positions",
                         "--number-prob", "0.6", "--pack-prob", "0.5", "--scramble-prob", "0.2"]
    pool = ["--data-from", str(tmp / "data.json"), "--tokenizer-from", str(tmp / "tok")]
    a, b = tmp / "da", tmp / "db"
    T.main(["--run", str(a), "--max-steps", "10", "--eval-every", "10", "--eval-size", "2"] + small + pool)
    T.main(["--run", str(b), "--max-steps", "5", "--eval-every", "10", "--eval-size", "2"] + small + pool)
    T.main(["--run", str(b), "--resume", "--max-steps", "10"])
    ca, cb = T.load_checkpoint(a / "checkpoint.pt"), T.load_checkpoint(b / "checkpoint.pt")
    bad = [k for k in ca["model"] if not torch.equal(ca["model"][k], cb["model"][k])]
    assert ca["step"] == cb["step"] == 10 and not bad, f"resumed --corpus debian run differs in {bad[:5]}"
    assert ca["config"]["decoder"]["n_positions"] == 52 and ca["config"]["latent_slots"] == 3 and ca["config"]["encoder"]["max_position_embeddings"] == 42
    print("resume (--corpus debian): 10 steps == 5 + resume 5 (bitwise)")

    # batches made ahead by worker processes are the batches made inline: the same run, bit for bit
    c = tmp / "dc"
    T.main(["--run", str(c), "--max-steps", "10", "--eval-every", "10", "--eval-size", "2", "--workers", "2"]
           + small + pool)
    cc = T.load_checkpoint(c / "checkpoint.pt")
    bad = [k for k in ca["model"] if not torch.equal(ca["model"][k], cc["model"][k])]
    assert cc["step"] == 10 and not bad, f"a run with --workers 2 differs in {bad[:5]}"
    print("batch workers: 10 steps with batches made by 2 processes == inline (bitwise)")

    # the accelerator recipe's autocast, on the CPU: it trains (finite losses that fall) and evaluates
    f = tmp / "df"
    T.main(["--run", str(f), "--max-steps", "20", "--eval-every", "20", "--eval-size", "2", "--amp", "bf16",
            "--device", "cpu", "--lr", "3e-3", "--log-every", "5"] + small + pool)
    losses = [r["loss"] for r in map(json.loads, (f / "log.jsonl").read_text().splitlines()) if "loss" in r]
    assert len(losses) == 4 and all(map(math.isfinite, losses)) and losses[-1] < losses[0], losses
    print(f"autocast bf16: 20 steps, loss {losses[0]:.3f} -> {losses[-1]:.3f}")

    # keep_run.py -> a warm start from the kept folder: the same weights (fp32 exactly), data and tokenizer
    import subprocess
    kept = tmp / "kept"
    subprocess.run([sys.executable, str(Path(__file__).resolve().parent / "keep_run.py"), str(a), str(kept)], check=True)
    w = tmp / "dw"
    T.main(["--run", str(w), "--max-steps", "0", "--init-from", str(kept / "weights.safetensors"),
            "--data-from", str(kept / "data.json.xz"), "--tokenizer-from", str(kept / "tokenizer")] + small)
    cw = T.load_checkpoint(w / "checkpoint.pt")
    bad = [k for k in ca["model"] if not torch.equal(ca["model"][k], cw["model"][k])]
    assert not bad and cw["step"] == 0, f"kept weights differ in {bad[:5]}"
    assert json.loads((w / "data.json").read_text())["train"] == json.loads((a / "data.json").read_text())["train"]
    print("keep_run: weights.safetensors + data.json.xz + tokenizer start a continuation with the same weights")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        resume_debian(Path(tmp))
    with tempfile.TemporaryDirectory() as tmp:
        a, b = Path(tmp) / "a", Path(tmp) / "b"
        T.main(["--run", str(a), "--max-steps", "12"] + TINY)
        T.main(["--run", str(b), "--max-steps", "6"] + TINY)
        T.main(["--run", str(b), "--resume", "--max-steps", "12"])
        ca, cb = T.load_checkpoint(a / "checkpoint.pt"), T.load_checkpoint(b / "checkpoint.pt")
        assert ca["step"] == cb["step"] == 12
        bad = [k for k in ca["model"] if not torch.equal(ca["model"][k], cb["model"][k])]
        assert not bad, f"resumed run differs in {bad[:5]}"
        print("resume: 12 steps == 6 + resume 6 (bitwise)")

        model = L.LarimarTiny(ca["config"])
        model.load_state_dict(ca["model"])
        model.eval()
        out = Path(tmp) / "model"
        L.save_model_dir(model, a / "tokenizer", out)
        cfg = json.loads((out / "config.json").read_text())
        assert cfg["format"] == "larimar-model" and cfg["latent_mode"] == "kv+embedding"
        from safetensors.torch import load_file
        enc, dec = load_file(str(out / "encoder.safetensors")), load_file(str(out / "decoder.safetensors"))
        C, d, nl = cfg["latent_size"], cfg["decoder"]["n_embd"], cfg["decoder"]["n_layer"]
        P = cfg["encoder"]["max_position_embeddings"]  # positions pooling: every position's hidden state
        assert enc["latent_head.weight"].shape == (2 * C, cfg["encoder"]["hidden_size"] * P)
        assert dec["latent_kv.weight"].shape == (nl * d, C) and dec["latent_emb.weight"].shape == (d, C)
        assert dec["transformer.h.0.attn.c_attn.weight"].shape == (d, 3 * d)  # Conv1D: [in, out]
        assert "embeddings.word_embeddings.weight" in enc and "pooler.dense.weight" in enc
        assert not any(k.startswith("bert.") for k in enc) and "lm_head.weight" not in dec
        back = L.load_model_dir(out)
        tok = L.load_tokenizer(out)
        toks = L.encode_batch(tok, ["The cat sat on 12345 mats.", "Hello there."])
        ids, mask = L.encoder_inputs(toks)
        with torch.no_grad():
            z1, _ = model.encode(ids, mask)
            z2, _ = back.encode(ids, mask)
            dec_in, _ = L.pad_batch([[L.EOT] + t for t in toks])
            l1, l2 = model.decode_logits(z1, dec_in), back.decode_logits(z2, dec_in)
        assert torch.equal(z1, z2) and torch.equal(l1, l2)
        # the latent conditioning is exactly the format's HF reference (past k/v = h_l, positions from 1)
        with torch.no_grad():
            h = model.latent_kv(z1).view(2, nl, d)
            H = cfg["decoder"]["n_head"]
            past = tuple((h[:, i].view(2, H, 1, d // H),) * 2 for i in range(nl))
            emb = model.decoder.transformer.wte(dec_in) + model.latent_emb(z1)[:, None]
            ref = model.decoder(inputs_embeds=emb, past_key_values=past,
                                position_ids=torch.arange(1, dec_in.shape[1] + 1)[None],
                                attention_mask=torch.ones(2, 1 + dec_in.shape[1])).logits
        assert torch.allclose(ref, l1, atol=1e-5)
        print("export: names, shapes and outputs round-trip")

        # a warm start takes the weights and nothing else: step 0, fresh optimiser, the same latents
        w = Path(tmp) / "warm"
        T.main(["--run", str(w), "--max-steps", "0", "--init-from", str(a / "checkpoint.pt"),
                "--tokenizer-from", str(a / "tokenizer")] + TINY)
        cw = T.load_checkpoint(w / "checkpoint.pt")
        assert cw["step"] == 0 and all(torch.equal(cw["model"][k], ca["model"][k]) for k in ca["model"])
        print("warm start: weights taken, step 0")


if __name__ == "__main__":
    main()
