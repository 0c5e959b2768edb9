#!/usr/bin/env bash
# larimar-small's accelerator run: one command that trains on a GPU for a fixed wall time and leaves, in $OUT,
# what continues the run here (docs/training.md, "On a GPU").
#
# Here, before the call (once):  bash tools/train/gpu_run.sh --prepare
#   puts the Python wheels the GPU machine lacks into .whl/ (transformers 4.44, whose GPT-2 takes the legacy
#   past_key_values the model uses; tokenizers and huggingface_hub to match) and moves the continuation weights
#   and the shipped models/larimar-small (61 MB each) into .device-aside/, so that the working tree that travels
#   stays under the device's 64 MiB.
# There (device `run`, carry [".whl"], timeout_s 600):
#   bash tools/train/gpu_run.sh --minutes 7
# Here, after it:                bash tools/train/gpu_run.sh --collect FILES_AT
#   puts the weights back together (they come back in 15 MiB parts), keeps the run as the continuation state
#   (checkpoints/larimar-small/, as keep_run.py does) and puts models/larimar-small back (and the old weights, if
#   the run left nothing).
# On the CPU at a tiny size, to check the command before a GPU is spent on it:
#   OUT=/tmp/gpu-out bash tools/train/gpu_run.sh --minutes 1 --device cpu --tiny
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
kept=checkpoints/larimar-small
mode=run minutes=7 device=cuda tiny=0 files=
while [ $# -gt 0 ]; do
  case $1 in
    --prepare) mode=prepare ;;
    --collect) mode=collect; files=${2:?"--collect needs the folder the files came back to"}; shift ;;
    --minutes) minutes=$2; shift ;;
    --device) device=$2; shift ;;
    --tiny) tiny=1 ;;
    *) echo "usage: $0 [--prepare | --collect DIR | --minutes M [--device D] [--tiny]]" >&2; exit 2 ;;
  esac
  shift
done

if [ "$mode" = prepare ]; then
  grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
  grep -qx '/.device-aside/' .git/info/exclude 2>/dev/null || echo '/.device-aside/' >> .git/info/exclude
  mkdir -p .whl .device-aside
  plat=()
  for p in manylinux_2_28_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64; do plat+=(--platform "$p"); done
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp "${plat[@]}" \
    -d .whl 'transformers==4.44.2' 'tokenizers==0.19.1' 'huggingface_hub==0.24.7'
  [ -f "$kept/weights.safetensors" ] && mv "$kept/weights.safetensors" .device-aside/
  [ -d models/larimar-small ] && mv models/larimar-small .device-aside/
  du -sh .whl; git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | awk '{printf "tracked files: %.1f MiB\n", $1/1048576}'
  exit 0
fi

if [ "$mode" = collect ]; then
  [ -d .device-aside/larimar-small ] && mv .device-aside/larimar-small models/
  [ -f "$files/weights.safetensors.part00" ] || { echo "no weights in $files" >&2; exit 1; }
  tmp=$(mktemp -d)
  cat "$files"/weights.safetensors.part* > "$tmp/weights.safetensors"
  rm -f .device-aside/weights.safetensors
  cp "$kept/data.json.xz" "$tmp/"; cp -r "$kept/tokenizer" "$tmp/"
  for f in weights.json args.json log.jsonl; do cp "$files/$f" "$tmp/"; done
  python3 - "$tmp" <<'PY'
import json, sys, pathlib
d = pathlib.Path(sys.argv[1])
with open(d / "log.txt", "w") as f:  # train.py's line format
    for rec in map(json.loads, (d / "log.jsonl").read_text().splitlines()):
        f.write(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in rec.items()) + "\n")
PY
  rm -rf "$kept"; mv "$tmp" "$kept"; chmod 755 "$kept"
  echo "kept the GPU run in $kept: $(python3 -c "import json;m=json.load(open('$kept/weights.json'));print('step',m['step'])")"
  exit 0
fi

# The run, on the machine with the accelerator.
: "${OUT:?OUT: the folder whose files come back}"
py=python3
[ -x .venv/bin/python ] && py=.venv/bin/python
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
  $py -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site
fi
export PYTHONUNBUFFERED=1
run=/tmp/larimar-gpu-run
rm -rf "$run"
cores=$(nproc)
workers=$(( cores > 4 ? cores - 2 : 1 ))
if [ "$tiny" = 1 ]; then  # the same command at a size one CPU core runs in a minute
  size=(--vocab 8192 --max-tokens 64 --dec-positions 137 --latent-slots 8 --d-model 32 --latent 32 --heads 2
        --enc-layers 1 --dec-layers 1 --batch 16 --eval-every 20 --eval-size 4 --log-every 10)
else     # larimar-small's shape (docs/training.md §2), a batch that fills the GPU
  size=(--vocab 8192 --max-tokens 64 --dec-positions 137 --latent-slots 8 --d-model 256 --latent 512
        --enc-layers 2 --dec-layers 4 --heads 4 --batch 256 --eval-every 2000 --eval-size 100 --log-every 200)
fi
$py -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__,
'device', torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu')"
common=(--corpus debian --data-from "$kept/data.json.xz" --tokenizer-from "$kept/tokenizer" --pooling positions
        "${size[@]}" --device "$device" --amp bf16 --workers "$workers" --threads 2 --lr 1e-3 --warmup 300
        --number-prob 0.5 --scramble-prob 0.1 --pack-prob 0.5 --ckpt-minutes 2)
# One minute to measure the rate, then the cosine horizon set to the steps the rest of the time allows.
$py tools/train/train.py --run "$run" "${common[@]}" --total-steps 100000 --max-wall-minutes 1
total=$($py -c "import json,sys; r=[json.loads(l) for l in open('$run/log.jsonl')]
rate=[x['steps_per_s'] for x in r if 'steps_per_s' in x][-1]; step=[x['step'] for x in r if 'step' in x][-1]
print(max(step + 1, int(step + rate * ($minutes - 1.3) * 60)))")
echo "cosine horizon: $total steps"
$py tools/train/train.py --run "$run" --resume --total-steps "$total" --max-wall-minutes "$minutes"
# What continues the run here: the weights (fp16, in parts under the 16 MiB a returned file may have) and logs
# (at most 8 files come back: log.txt is remade from log.jsonl on --collect).
$py tools/train/keep_run.py "$run" "$run/kept" --fp16
split -b 15M -d "$run/kept/weights.safetensors" "$OUT/weights.safetensors.part"
cp "$run/kept/weights.json" "$run/args.json" "$run/log.jsonl" "$OUT/"
ls -la "$OUT"
