#!/usr/bin/env python3
"""Runs llama.cpp's own convert_hf_to_gguf.py on the benchmark's GPT-2 directory (tools/make_gpt2_hf_dir.py).

Run:   .venv/bin/python tools/gguf_convert_gpt2.py LLAMA_CPP_SOURCE HF_DIR --outfile F.gguf --outtype f32|f16|q8_0
       (every argument after LLAMA_CPP_SOURCE goes to the converter unchanged)
The converter names the BPE pre-tokenizer by hashing how the directory's tokenizer splits a test string, and
stops on a tokenizer it does not know; the benchmark's tokenizer is a placeholder (the benchmarks feed token ids),
so this declares it GPT-2's ("gpt-2") and otherwise leaves the converter as it is. The gguf package is the one
vendored beside the converter (gguf-py), as the converter itself arranges. With a torch older than the
converter expects (the project's venv has 1.13), the float8 / unsigned dtypes it names are stood in for.
"""
import os
import sys


def main() -> None:
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    src = os.path.abspath(sys.argv[1])
    sys.path.insert(0, src)
    sys.argv = [os.path.join(src, "convert_hf_to_gguf.py")] + sys.argv[2:]
    import torch

    # The converter names dtypes newer than the project's torch (1.13) in its lookup tables; the benchmark's tensors
    # are all f32, so placeholders that no tensor carries are enough to import it.
    for name in ("float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "uint16", "uint32", "uint64"):
        if not hasattr(torch, name):
            setattr(torch, name, type(f"missing_{name}", (), {})())
    import convert_hf_to_gguf as conv  # noqa: E402  (from the llama.cpp source given)
    from conversion import base  # noqa: E402

    base.TextModel.get_vocab_base_pre = lambda self, tokenizer: "gpt-2"
    conv.main()


if __name__ == "__main__":
    main()
