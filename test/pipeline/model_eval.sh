#!/bin/sh
# larimar-model-eval: one latent against the pipeline's cut. larimar-tiny says back neither long sentence from one
# latent; written through a pipeline in 12-token pieces that repeat 3 tokens, both come back whole. Bad options
# are refused with the problem named.
# Usage: model_eval.sh <larimar-model-eval> <model dir>
set -u
bin=$1
model=$2
items=$(mktemp)
trap 'rm -f "$items"' EXIT
cat >"$items" <<'ITEMS'
{"set": "long", "text": "The vault code is 4471 and the spare key for the old garden shed sits under the third blue flower pot.", "prompt": "The vault code", "score": "exact"}
{"set": "long", "text": "The lighthouse keeper on Skerry Island was a woman named Agnes Thorvaldsen, and she kept the lamp burning through forty winters without missing a single night.", "prompt": "The lighthouse keeper", "score": "exact"}
{"set": "number", "text": "The parcel tracking number is 4408127735 for the blue box.", "prompt": "The parcel tracking", "score": "number", "value": "4408127735"}
ITEMS
name=larimar-model-eval
. "$(dirname "$0")/expect.sh"
expect 0 "| long | 2 | 0.000 |" --model "$model" --items "$items"
expect 0 "| number | 1 | 1.000 |" --model "$model" --items "$items"
expect 0 "segments of 40 tokens, pieces repeating 0" --model "$model" --items "$items" --pipeline
expect 0 "| long | 2 | 1.000 |" --model "$model" --items "$items" --pipeline --segment-tokens 12 --segment-overlap 3
expect 0 "segments of 12 tokens, pieces repeating 3" --model "$model" --items "$items" --pipeline --segment-tokens 12 --segment-overlap 3
expect 2 "--segment-tokens and --segment-overlap need --pipeline" --model "$model" --items "$items" --segment-tokens 12
expect 1 "segment_overlap must be less than segment_tokens (12), got 12" --model "$model" --items "$items" --pipeline --segment-tokens 12 --segment-overlap 12
exit $fail
