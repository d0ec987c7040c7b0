"""Peak memory of decoding a video in the app's decoding child (inference/video_decode.py), against its ceiling.

    python -m bench.decode_memory [FILE ...]

Each file is decoded twice, each time in a fresh process that runs the child's side alone (its frames to /dev/null):
a whole clip sampled at 4 frames a second, as a job reads it, and the frame at 0.9 s, as the scrubber asks for it.
It prints how far each raised the process's peak resident memory and address space, and what the child answered.
Without files: an ordinary 4K clip made with ffmpeg (x264's "slower" preset: 8 reference frames) and the test
stream whose decoder holds more than its headers say (tests/data/hevc-4k-16-references-said-1.mp4), which must be
refused. Target: ordinary 4K clips pass under DECODE_MEMORY (352 MB); that stream is refused.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import ROOT
from inference.child import start_child

MEASURE = """
import os, pickle, sys, tempfile
from inference import video_decode
from inference.child import run_reserved, status_bytes
resident, address_space = status_bytes("VmRSS"), status_bytes("VmSize")
with tempfile.TemporaryFile() as answer:
    run_reserved(lambda: video_decode._run_child(sys.argv[1], sys.argv[2], str(os.dup(answer.fileno())),
                                                 str(os.open(os.devnull, os.O_WRONLY)), sys.argv[3:]))
    answer.seek(0)
    said = pickle.loads(answer.read())
print((status_bytes("VmHWM") - resident) >> 20, (status_bytes("VmPeak") - address_space) >> 20, said or "passed")
"""
TASKS = {"whole clip at 4 fps": ("sample", "4.0", "120.0"), "frame at 0.9 s": ("frame", "0.9")}


def ordinary_4k(folder: Path) -> Path:
    clip = folder / "4k-x264-slower.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=s=3840x2160:d=2:r=30", "-c:v",
                    "libx264", "-preset", "slower", "-pix_fmt", "yuv420p", str(clip)], check=True)
    return clip


def measured(path: Path, task: tuple[str, ...]) -> str:
    """The child's side run on `path` in a fresh process: its peak growth and its answer, in words."""
    child = start_child([sys.executable, "-c", MEASURE, task[0], str(path.resolve()), *task[1:]],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # the app's children's settings
    printed, complained = child.communicate()
    if child.returncode:
        raise SystemExit(f"measuring {path} failed: {complained[-2000:]}")
    resident, address_space, said = printed.strip().splitlines()[-1].split(" ", 2)
    return f"+{resident} MB resident, +{address_space} MB address space: {said}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        files = args.files or [ordinary_4k(Path(folder)), ROOT / "tests/data/hevc-4k-16-references-said-1.mp4"]
        for path in files:
            for name, task in TASKS.items():
                print(f"{path.name}, {name}: {measured(path, task)}", flush=True)


if __name__ == "__main__":
    main()
