#!/usr/bin/env bash
# On a lent GPU machine (the device tool), once every .gpu/part-N folder of `python -m training.device_pack pack` has
# travelled (one call each): four face-model runs side by side on the one GPU, each for about FIT_SECONDS
# (default 300), on FER2013 + the packed aligned crops with domain-shift augmentation, distilled half from the
# shipped pair: each shipped member fine-tuned (peak LR 0.01, seeds 100 and 101) and two members from scratch
# (peak LR 0.05, seeds 110 and 111). Each run's best member by val macro-F1 (float16, 9.4 MB) and its log land in
# $OUT: 8 files, what one call can bring back. The model card ("On the next lent GPU") says what to do with them.
set -uo pipefail
export PYTHONUNBUFFERED=1
OUT="${OUT:-$(mktemp -d)}"
FIT_SECONDS="${FIT_SECONDS:-300}"
shipped=inference/weights/emotion_fer2013.pt
mapfile -t extras < <(python3 -m training.device_pack unpack --packed .gpu --data .gpu/fer2013 --cache .cache/data)
[ "${#extras[@]}" -gt 0 ] || { echo "nothing unpacked" >&2; exit 1; }
extra_args=(--extra-balance --domain-shift)
for spec in "${extras[@]}"; do extra_args+=(--extra "$spec"); done
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader

run() {  # NAME, then training.train's own arguments
  local name=$1
  shift
  python3 -m training.train --data .gpu/fer2013 --cache .cache/data --out "$OUT/$name.pt" \
    --state ".cache/state-$name.pt" --fit-seconds "$FIT_SECONDS" --teacher "$shipped" --distill-weight 0.5 \
    --distill-temperature 2 "${extra_args[@]}" "$@" >"$OUT/$name.log" 2>&1 &
}
run tuned0 --init "$shipped" --init-member 0 --lr 0.01 --seed 100
run tuned1 --init "$shipped" --init-member 1 --lr 0.01 --seed 101
run scratch0 --lr 0.05 --seed 110
run scratch1 --lr 0.05 --seed 111
wait
for log in "$OUT"/*.log; do echo "== $log"; grep -E '^(about|extra|train|best)' "$log"; tail -n 2 "$log"; done
