#!/bin/sh
# larimar-recall's command line: bad arguments, unreadable or empty files and impossible tasks end with a message
# and a non-zero status (2: usage, 1: while running); a small sweep prints its table and writes its files.
# Usage: cli.sh <larimar-recall> <model dir>
set -u
bin=$1
model=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
name=larimar-recall
. "$(dirname "$0")/expect.sh"
expect 0 "Usage: larimar-recall" --help
expect 2 "unknown argument '--bogus'" --bogus
expect 2 "--lengths: 'abc' is not a non-negative integer" --lengths abc
expect 2 "--depths: 150 is outside" --depths 150
expect 2 "--seeds needs a value" --seeds
expect 2 "--seeds: 0 is outside" --seeds 0
expect 2 "unknown policy 'magic'" --policies prefix,magic
expect 2 "belong to --task needle" --needle "A needle."
expect 2 "--digits: 0 is outside" --digits 0
expect 2 "--task: 'haystack' is neither" --task haystack
expect 2 "--slots given twice" --slots 8 --slots 9
expect 2 "unknown RULER task 'single_9' (valid: single_1, single_2" --task ruler:single_9
expect 2 "do not apply to RULER's tasks" --task ruler:multivalue --depths 50
expect 2 "--digits belongs to --task passkey" --task ruler:all --digits 4
expect 2 "--top-k belongs to --task ruler" --top-k 3
expect 2 "--memory: memory spec 'sharded,iter7': unknown token 'iter7'" --memory sharded,iter7
expect 2 "names a key policy; the key policies come from --policies" --memory prefix_encoding
expect 2 "the storage is given twice, as 'host' and 'device'" --memory host --footprint
expect 2 "content keys need the plain layout" --memory sharded --policies content/full
expect 2 "--packing: segment packing 'magic' is none of greedy, sentence_start, sentence_keys" --packing magic
expect 2 "--weights: 'f8' is none of f32, f16, bf16, int8" --weights f8
expect 2 "--continuation-tokens: 5000 is outside" --continuation-tokens 5000
expect 1 "no such file" --model "$model" --task needle --haystack /nonexistent/file.txt --memory-only
: > "$tmp/empty.txt"
expect 1 "has no text" --model "$model" --task needle --haystack "$tmp/empty.txt"
printf 'Some prose here. More of it.\n' > "$tmp/hay.txt"
expect 1 "cannot open" --model "$tmp/no-model"
# A needle longer than the segment budget is cut into pieces; the first (the query's) is found.
expect 0 "| needle | prefix | 1.00 |" --model "$model" --task needle --haystack "$tmp/hay.txt" --memory-only \
  --needle "The best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a sunny day, every day." \
  --segment-tokens 20
expect 1 "does not start the needle" --model "$model" --task needle --haystack "$tmp/hay.txt" --needle "A fact." \
  --query "Unrelated"
expect 1 "segment_tokens must be in [1, 40]" --model "$model" --segment-tokens 41 --memory-only

# --needles: each line a needle of its own; a bad file is refused with its line named.
set_args="--model $model --task needle --memory-only --haystack $tmp/hay.txt --needles"  # word-split below
expect 2 "--needles gives each needle its query and answer" --task needle --needles "$tmp/set.jsonl" --query "A"
expect 2 "belong to --task needle" --needles "$tmp/set.jsonl"
expect 1 "--needles: cannot open" $set_args "$tmp/none.jsonl"
printf '\n\n' > "$tmp/set.jsonl"
expect 1 "has no needle" $set_args "$tmp/set.jsonl"
printf '{"name": "a", "needle": "The code is 12.", "query": "The code is"}\n[1, 2]\n' > "$tmp/set.jsonl"
expect 1 "set.jsonl:2: not a JSON object" $set_args "$tmp/set.jsonl"
printf '{"name": "a", "needle": "The code is 12."}\n' > "$tmp/set.jsonl"
expect 1 "set.jsonl:1: no \"query\"" $set_args "$tmp/set.jsonl"
printf '{"name": "a b", "needle": "The code is 12.", "query": "The code is"}\n' > "$tmp/set.jsonl"
expect 1 "name 'a b' has a character other than" $set_args "$tmp/set.jsonl"
printf '{"name": "a", "needle": "The code is 12.", "query": "The code is", "depth": 5}\n' > "$tmp/set.jsonl"
expect 1 "unknown field \"depth\"" $set_args "$tmp/set.jsonl"
printf '{"name": "a", "needle": "The code is 12.", "query": "The code is"}\n{"name": "a", "needle": "B.", "query": "B"}\n' \
  > "$tmp/set.jsonl"
expect 1 "set.jsonl:2: name 'a' given twice" $set_args "$tmp/set.jsonl"
printf '{"name": "a", "needle": "The code is 12.", "query": "The door"}\n' > "$tmp/set.jsonl"
expect 1 "does not start the needle" $set_args "$tmp/set.jsonl"
# The shipped set: a row per needle (its own P: the header gives the range), the mean over all twenty.
set_file="$(dirname "$0")/../../tools/recall/needles.jsonl"
expect 0 "prefix P = 8..23 tokens (per needle)" --model "$model" --task needle --needles "$set_file" \
  --lengths 2K --memory-only --no-progress --out "$tmp/set"
grep -qF "| needle-code-wifi | prefix | 1.00 |" "$tmp/set/table.md" && grep -qF "| **mean** | prefix | 1.00 |" "$tmp/set/table.md" ||
  { echo "FAIL: the needle set's table:"; cat "$tmp/set/table.md"; fail=1; }
[ "$(wc -l < "$tmp/set/trials.csv")" -eq 21 ] || { echo "FAIL: trials.csv should have 20 rows"; fail=1; }

# A small sweep: the table, the CSV rows and the PNG heatmaps.
expect 0 "| passkey-3 | prefix | 1.00 |" --model "$model" --lengths 4K --depths 0,100 --seeds 2 --memory-only \
  --out "$tmp/out" --no-progress
[ "$(wc -l < "$tmp/out/trials.csv")" -eq 5 ] || { echo "FAIL: trials.csv should have 4 rows"; fail=1; }
for f in summary.csv table.md heatmap-passkey-3-prefix-memory.png; do
  [ -s "$tmp/out/$f" ] || { echo "FAIL: $f missing"; fail=1; }
done
[ "$(head -c 4 "$tmp/out/heatmap-passkey-3-prefix-memory.png" | tail -c 3)" = "PNG" ] || { echo "FAIL: not a PNG"; fail=1; }

# RULER: one row per task and the mean; one CSV row per query (multiquery asks four per sample).
expect 0 "| multiquery | prefix |" --model "$model" --task ruler:all --lengths 2K --seeds 1 --memory-only \
  --out "$tmp/ruler" --no-progress
[ "$(wc -l < "$tmp/ruler/ruler_trials.csv")" -eq $((1 + 7 + 4)) ] || { echo "FAIL: ruler_trials.csv should have 11 rows"; fail=1; }
grep -qF "| **mean** | prefix |" "$tmp/ruler/ruler_table.md" || { echo "FAIL: ruler_table.md has no mean row"; fail=1; }

# Every sentence a segment: RULER's single_2 needles sit inside running prose, and each is found (with greedy
# packing two of these five share a segment with the sentence before them and are missed: 60.0).
for p in greedy sentence_start sentence_keys; do
  "$bin" --model "$model" --task ruler:all --lengths 4K --seeds 5 --memory-only --packing $p --no-progress \
    > "$tmp/ruler-$p.txt" 2>&1 || { echo "FAIL: RULER with --packing $p"; fail=1; }
done
grep -qF "| single_2 | prefix | 100.0 |" "$tmp/ruler-sentence_start.txt" &&
  ! grep -qF "| single_2 | prefix | 100.0 |" "$tmp/ruler-greedy.txt" &&
  grep -qF "(sentence_start packing)" "$tmp/ruler-sentence_start.txt" ||
  { echo "FAIL: sentence_start packing should find every single_2 needle, greedy not:"; grep -h single_2 "$tmp"/ruler-*.txt; fail=1; }
# Greedy segments with a lookup row per sentence start find them too.
grep -qF "| single_2 | prefix | 100.0 |" "$tmp/ruler-sentence_keys.txt" &&
  grep -qF "(sentence_keys packing)" "$tmp/ruler-sentence_keys.txt" ||
  { echo "FAIL: sentence_keys packing should find every single_2 needle:"; grep -h single_2 "$tmp"/ruler-*.txt; fail=1; }
# Weights quantised to int8 at load still say the passkey back.
expect 0 "| passkey-3 | prefix | 1.00 / 1.00 |" --model "$model" --lengths 4K --depths 50 --seeds 3 --weights int8 \
  --no-progress

# --memory and a key token in --policies: the factory's memories, named in the header and the table.
expect 0 "| passkey-3 | prefix-encoding | 1.00 |" --model "$model" --lengths 4K --depths 50 --memory-only --no-progress \
  --memory device,iter15_safe,fp16 --policies prefix,prefix-encoding
expect 0 "memory iter15_safe,device,fp16" --model "$model" --lengths 4K --depths 50 --memory-only --no-progress \
  --memory device,iter15_safe,fp16
expect 0 "| passkey-3 | fixed_nearest/prefix | 1.00 |" --model "$model" --lengths 4K --depths 50 --memory-only \
  --no-progress --policies fixed_nearest/prefix --out "$tmp/keys"
[ -s "$tmp/keys/heatmap-passkey-3-fixed_nearest-prefix-memory.png" ] || { echo "FAIL: a key token's heatmap"; fail=1; }

# The device footprint: the memory's bytes grow with the context, the GPU's with the memory on the host do not.
expect 0 "| GPU, memory on the host |" --model "$model" --footprint --lengths 4K,32K --out "$tmp/fp"
awk -F, 'NR == 2 { b0 = $4; h0 = $5; d0 = $6 } NR == 3 { ok = ($4 > b0 && $5 == h0 && $6 - $5 == $4 && d0 - h0 == b0) }
         END { exit !(NR == 3 && ok) }' "$tmp/fp/footprint.csv" ||
  { echo "FAIL: footprint.csv:"; cat "$tmp/fp/footprint.csv"; fail=1; }
[ "$(head -c 4 "$tmp/fp/footprint.png" | tail -c 3)" = "PNG" ] || { echo "FAIL: footprint.png is not a PNG"; fail=1; }
exit $fail
