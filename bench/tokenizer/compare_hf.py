#!/usr/bin/env python3
"""Encode throughput, larimar's tokenizers against Hugging Face `tokenizers`, on the same files and texts.

Run from the repository root after building bench_tokenizer (e.g. cmake --build build --target bench_tokenizer):
    .venv/bin/python bench/tokenizer/compare_hf.py [path/to/bench_tokenizer]
Uses the fixtures in test/fixtures/tokenizer (tools/make_tokenizer_fixtures.py). Both sides run on one thread and
encode one text at a time; HF is timed with Tokenizer.encode_batch (Rust loop, no per-text Python call) and with
Tokenizer.encode per text, and both sides also encode all texts joined by newlines into one document (one call).
Prints MB/s of input text per CPU second (both sides), so that other load on a shared machine matters less;
writes nothing.
"""
import json
import os
import subprocess
import sys
import time

os.environ["RAYON_RS_NUM_CPUS"] = "1"       # tokenizers' thread pool: one thread, like the C++ loop
os.environ["TOKENIZERS_PARALLELISM"] = "false"
from transformers import BertTokenizerFast, GPT2TokenizerFast  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(ROOT, "test", "fixtures", "tokenizer")


def best_of(fn, repeats=5):
    times = []
    for _ in range(repeats):
        t0 = time.process_time()  # CPU time: the machine is shared; Google Benchmark's rates use CPU time too
        fn()
        times.append(time.process_time() - t0)
    return min(times)


def main():
    texts = json.load(open(os.path.join(FIX, "cases.json"), encoding="utf-8"))["texts"]
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    gpt2 = GPT2TokenizerFast(vocab_file=os.path.join(FIX, "gpt2_vocab.json"),
                             merges_file=os.path.join(FIX, "gpt2_merges.txt"))._tokenizer
    bert = BertTokenizerFast(vocab_file=os.path.join(FIX, "bert_uncased_vocab.txt"), do_lower_case=True)._tokenizer
    rows = []
    for name, tok in (("bpe", gpt2), ("wordpiece", bert)):
        tok.encode_batch(texts)  # warm the BPE cache, as the C++ benchmark's repetitions do
        rows.append((f"HF {name} encode_batch", mb / best_of(lambda: tok.encode_batch(texts))))
        rows.append((f"HF {name} encode per text", mb / best_of(lambda: [tok.encode(t) for t in texts])))
        doc = "".join(t + "\n" for t in texts)
        doc_mb = len(doc.encode("utf-8")) / 1e6
        rows.append((f"HF {name} encode one document", doc_mb / best_of(lambda: tok.encode(doc))))
    exe = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "bench", "bench_tokenizer")
    out = subprocess.run([exe, "--benchmark_format=json", "--benchmark_repetitions=5",
                          "--benchmark_report_aggregates_only=true"], check=True, capture_output=True, text=True)
    for b in json.loads(out.stdout)["benchmarks"]:
        if b.get("aggregate_name") == "median":
            rows.append((f"larimar {b['run_name'].removeprefix('BM_')}", b["bytes_per_second"] / 1e6))
    print(f"{len(texts)} texts, {mb:.3f} MB; one thread; MB of input per CPU second "
          "(best of 5 for HF, median of 5 for larimar)")
    for name, rate in rows:
        print(f"  {name:34s} {rate:8.2f} MB/s")


if __name__ == "__main__":
    main()
