#!/usr/bin/env python3
"""Writes the safetensors reference fixtures of test/io (tag "io"), using code nobody here wrote.

Run:   .venv/bin/python tools/make_safetensors_fixtures.py [--out test/fixtures/io]
       (the venv comes from `bash tools/setup_venv.sh`: torch, numpy, PyPI safetensors)
Deterministic (seeded); rerunning rewrites identical files. Writes into --out:

  python_mixed.safetensors  written by the safetensors library (safetensors.torch.save_file) with metadata and
                            f32 / f16 / bf16 tensors of known values, a scalar and an empty tensor.
  python_mixed.json         for each tensor of python_mixed: dtype, shape and torch's own float32 conversion of
                            its values as uint32 bit patterns (so inf, nan and -0 compare exactly); the metadata.
  half_tables.safetensors   conversion tables (written by the same library):
                              f16_all      F16  [65536]  every binary16 bit pattern 0..65535
                              f16_all_f32  F32  [65536]  numpy's float16 -> float32 of each
                              bf16_all     BF16 [65536]  every bfloat16 bit pattern
                              bf16_all_f32 F32  [65536]  torch's bfloat16 -> float32 of each
                              narrow_in    F32  [N]      seeded random floats over many magnitudes + edge cases
                                                         (ties, overflow and subnormal boundaries, inf, nan, -0)
                              narrow_f16   F16  [N]      numpy's float32 -> float16 (round to nearest even)
                              narrow_bf16  BF16 [N]      torch's float32 -> bfloat16 (round to nearest even)
"""
import argparse
import json
import os

import numpy as np
import torch
from safetensors.torch import save_file


def u32_bits(t: torch.Tensor) -> list:
    return [int(v) for v in t.float().contiguous().view(torch.int32).numpy().astype(np.uint32).reshape(-1)]


def mixed(out: str) -> None:
    f32 = torch.tensor([[1.0, -2.5, 3.25], [0.0, -0.0, 1e-30]], dtype=torch.float32)
    # f16 edge values: smallest subnormal, largest subnormal, smallest normal, max, inf, -inf, nan, -0, 1/3
    f16 = torch.tensor([2.0 ** -24, 1023 * 2.0 ** -24, 2.0 ** -14, 65504.0, float("inf"), float("-inf"),
                        float("nan"), -0.0, 1.0 / 3.0], dtype=torch.float32).to(torch.float16)
    bf16 = torch.tensor([[[1.0, -1.0], [3.140625, 1e38]], [[float("inf"), 2.0 ** -133], [-7.5, 0.1]]],
                        dtype=torch.float32).to(torch.bfloat16)
    gen = torch.Generator().manual_seed(1234)
    f32_random = torch.randn(5, 7, generator=gen)
    tensors = {
        "layer.weight": f32,
        "layer.bias": f16,
        "emb.table": bf16,
        "random.matrix": f32_random,
        "scalar": torch.tensor(42.5, dtype=torch.float32),
        "empty": torch.zeros(0, 3, dtype=torch.float16),
    }
    metadata = {"format": "pt", "origin": "tools/make_safetensors_fixtures.py"}
    save_file(tensors, os.path.join(out, "python_mixed.safetensors"), metadata=metadata)
    names = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}
    ref = {"metadata": metadata,
           "tensors": {k: {"dtype": names[v.dtype], "shape": list(v.shape), "f32_bits": u32_bits(v)}
                       for k, v in sorted(tensors.items())}}
    with open(os.path.join(out, "python_mixed.json"), "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")


def tables(out: str) -> None:
    all16 = np.arange(65536, dtype=np.uint32).astype(np.uint16)
    f16_all = all16.view(np.float16)
    f16_all_f32 = f16_all.astype(np.float32)  # numpy's conversion is the reference
    bf16_all = torch.from_numpy(all16.astype(np.int16)).view(torch.bfloat16)
    bf16_all_f32 = bf16_all.float()  # torch's conversion is the reference

    rng = np.random.default_rng(20261125)
    magnitudes = rng.uniform(-30.0, 18.0, size=12000)  # 2^-30 .. 2^18: subnormal f16 through f16 overflow
    random = (rng.choice([-1.0, 1.0], size=12000) * np.exp2(magnitudes)).astype(np.float32)
    with np.errstate(over="ignore"):  # the widest draws overflow to inf on purpose
        wide = (rng.standard_normal(4000) * np.exp2(rng.uniform(-130, 128, size=4000))).astype(np.float32)
    edges = []
    for base in (1.0, 2.0 ** -14, 2.0 ** -20, 2.0 ** -24, 65504.0, 1.5, 3.0):
        b = np.float32(base)
        edges += [b, np.nextafter(b, np.float32(0)), np.nextafter(b, np.float32(np.inf))]
    # exact ties for f16 (between two f16 neighbours) and for bf16, both parities; boundaries of rounding to inf/0
    edges += [1.0 + 2.0 ** -11, 1.0 + 3 * 2.0 ** -11, 2.0 ** -25, 3 * 2.0 ** -25, 2.0 ** -26, 65520.0,
              np.nextafter(np.float32(65520.0), np.float32(0)), 65536.0, 1e30, 1.0 + 2.0 ** -8, 1.0 + 3 * 2.0 ** -8,
              3.3895314e38, np.finfo(np.float32).max, np.finfo(np.float32).tiny, 1e-45, 0.0, -0.0,
              np.inf, -np.inf, np.nan, 1.0 / 3.0, -2.0 / 3.0]
    edges = np.array(edges, dtype=np.float32)
    narrow_in = np.concatenate([edges, -edges, random, wide]).astype(np.float32)
    with np.errstate(over="ignore"):
        narrow_f16 = narrow_in.astype(np.float16)
    narrow_bf16 = torch.from_numpy(narrow_in).to(torch.bfloat16)

    save_file({
        "f16_all": torch.from_numpy(f16_all.copy()),
        "f16_all_f32": torch.from_numpy(f16_all_f32),
        "bf16_all": bf16_all.contiguous(),
        "bf16_all_f32": bf16_all_f32.contiguous(),
        "narrow_in": torch.from_numpy(narrow_in),
        "narrow_f16": torch.from_numpy(narrow_f16),
        "narrow_bf16": narrow_bf16.contiguous(),
    }, os.path.join(out, "half_tables.safetensors"))


def main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(here, "..", "test", "fixtures", "io"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    mixed(args.out)
    tables(args.out)
    for name in os.listdir(args.out):  # the library creates files 0600; fixtures are committed, make them 0644
        os.chmod(os.path.join(args.out, name), 0o644)
    print("wrote", sorted(os.listdir(args.out)))


if __name__ == "__main__":
    main()
