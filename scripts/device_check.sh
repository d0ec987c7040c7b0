#!/usr/bin/env bash
# On the lent GPU machine: the app's photo and video pipeline on CUDA (torch backend), the figures for
# docs/deploy.md's GPU section. First, here: `bash scripts/device_wheels.sh`; then, with the device tool:
#   run(command="bash scripts/device_check.sh", carry=[".whl"], timeout_s=480)
# Its output comes back in output_tail and in $OUT (gpu.txt, latency.txt, video.txt). The dog/cat detector's
# weights (67 MB, unpacked by scripts/setup.sh) do not fit in the 64 MiB that travels with the tree: photos are
# searched for faces only there (the pipeline logs it), so the dog photo's figure leaves out the SSD.
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
