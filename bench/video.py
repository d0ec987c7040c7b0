"""Video analysis speed on this machine: sampled frames analysed per second.

    python -m bench.video [--seconds 30] [--fps 4]

Builds 30-second 640x360 clips at 30 fps with 1 and 3 real faces (the astronaut
photo, moving), and times the whole job (decode, sample, detect, track,
classify, smooth). Target: a 30-second clip at 4 fps in under 15 s on 2 cores.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from skimage import data as skdata

from bench.clips import moving_faces_frames, write_video
from inference.pipeline import get_pipeline
from inference.video import VideoAnalyzer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--fps", type=float, default=4.0)
    args = parser.parse_args()
    pipeline = get_pipeline()
    analyzer = VideoAnalyzer(pipeline, fps=args.fps)
    print(f"device {pipeline.device}, torch threads {torch.get_num_threads()}, sampling {args.fps} fps")
    with tempfile.TemporaryDirectory() as folder:
        for faces in (1, 3):
            frames = moving_faces_frames(skdata.astronaut(), int(args.seconds * 30), faces=faces)
            clip = write_video(Path(folder) / f"{faces}.mp4", frames, fps=30)
            analyzer.analyze(write_video(Path(folder) / "warm.mp4", frames[:30], fps=30))  # warm-up
            began = time.perf_counter()
            result = analyzer.analyze(clip, max_seconds=args.seconds + 1)
            elapsed = time.perf_counter() - began
            per_30_seconds = elapsed * 30 / args.seconds
            print(f"{faces} face(s), {args.seconds:.0f} s clip: {result.frames_analysed} frames sampled, "
                  f"{len(result.tracks)} track(s), {elapsed:.1f} s total, "
                  f"{result.frames_analysed / elapsed:.1f} sampled frames/s; a 30 s clip takes "
                  f"{per_30_seconds:.1f} s (target < 15 s: {'met' if per_30_seconds < 15 else 'missed'})")


if __name__ == "__main__":
    main()
