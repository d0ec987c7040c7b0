#!/usr/bin/env bash
# On a GPU machine, from a copy of the repository with .whl/ (scripts/device_wheels.sh): the app's photo and video
# pipeline on CUDA (torch backend), the figures for docs/deploy.md's GPU section, also written to $OUT (gpu.txt,
# latency.txt, video.txt; a new temporary folder when OUT is unset). Without the dog/cat detector's weights
# (inference/weights/ssd_mobilenet_v2_coco, unpacked by scripts/setup.sh) photos are searched for faces only, and
# the pipeline logs it.
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
  || exit 1
export PYTHONPATH="/tmp/site:$PWD" PYTHONUNBUFFERED=1 MOODLENS_BACKEND=torch
OUT="${OUT:-$(mktemp -d)}"
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
} 2>&1 | tee "$OUT/gpu.txt"
python3 -m bench.latency --runs 30 --backends torch 2>&1 | tee "$OUT/latency.txt"
python3 -m bench.video --seconds 30 --fps 4 2>&1 | tee "$OUT/video.txt"
