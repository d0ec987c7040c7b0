"""Server-side latency of the photo pipeline on this machine, per stage, and resident memory.

    python -m bench.latency [--runs 30]

Photos: scikit-image's astronaut (1 face) upscaled to 1024 px, a 1024 px
collage of four real faces, and the astronaut beside Chelsea the cat. Prints p50/p95 per stage and end to end
(decode + detect faces and pets + crop and classify), and the process's peak RSS with both
models loaded. Budget: p50 < 150 ms for the 1-face photo on 2 cores; RSS < 1 GB.
"""

from __future__ import annotations

import argparse
import io
import resource
import time

import numpy as np
import torch
from PIL import Image
from skimage import data as skdata

from inference.pipeline import get_pipeline


def jpeg(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def test_photos() -> dict[str, bytes]:
    astronaut = skdata.astronaut()
    one_face = np.asarray(Image.fromarray(astronaut).resize((1024, 1024), Image.BICUBIC))
    face = astronaut[30:230, 130:330]
    tiles = [face, face[:, ::-1], np.asarray(Image.fromarray(face).rotate(8)), face[:, ::-1]]
    collage = np.concatenate([np.concatenate(tiles[:2], 1), np.concatenate(tiles[2:], 1)], 0)
    four_faces = np.asarray(Image.fromarray(collage).resize((1024, 1024), Image.BICUBIC))
    cat = np.asarray(Image.fromarray(skdata.chelsea()).resize((770, 512), Image.BICUBIC))
    person_and_cat = np.concatenate([astronaut, cat], axis=1)
    return {"1 face, 1024x1024": jpeg(one_face), "4 faces, 1024x1024": jpeg(four_faces),
            "1 face + 1 cat, 1282x512": jpeg(person_and_cat)}


def percentile_line(name: str, samples: list[float]) -> str:
    return f"  {name:<14} p50 {np.percentile(samples, 50):7.1f} ms   p95 {np.percentile(samples, 95):7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    started = time.perf_counter()
    pipeline = get_pipeline()
    print(f"device {pipeline.device}, torch threads {torch.get_num_threads()}, "
          f"models loaded in {time.perf_counter() - started:.1f} s")
    print(f"models: {pipeline.models}")
    for name, photo in test_photos().items():
        pipeline.analyze_bytes(photo)  # warm-up
        stages: dict[str, list[float]] = {}
        totals = []
        for _ in range(args.runs):
            began = time.perf_counter()
            result = pipeline.analyze_bytes(photo)
            totals.append((time.perf_counter() - began) * 1000)
            for stage, milliseconds in result.timings_ms.items():
                stages.setdefault(stage, []).append(milliseconds)
        print(f"{name}: {len(result.detections)} face(s) found, {args.runs} runs")
        for stage, samples in stages.items():
            print(percentile_line(stage, samples))
        print(percentile_line("total", totals))
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory with both models loaded: {peak_rss_mb:.0f} MB")


if __name__ == "__main__":
    main()
