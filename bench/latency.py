"""Server-side latency of the photo pipeline on this machine, per stage, and resident memory.

    python -m bench.latency [--runs 30] [--backends onnx,torch]

Photos: scikit-image's astronaut (1 face) upscaled to 1024 px, a 1024 px
collage of four real faces, the astronaut beside Chelsea the cat, and a dingo (tests/data).
Prints p50/p95 per stage and end to end (decode + detect faces and pets + crop and classify), and the process's
peak RSS with all models loaded, for each classifier backend side by side (each measured in its own process).
Budget: p50 < 150 ms for the 1-face photo on 2 cores; RSS < 1 GB.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import resource
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from PIL import Image
from skimage import data as skdata

from inference.backends import Backend
from inference.pipeline import Pipeline
from bench.clips import dog_scene


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
    dog, _ = dog_scene("dingo-photo.png")
    return {"1 face, 1024x1024": jpeg(one_face), "4 faces, 1024x1024": jpeg(four_faces),
            "1 face + 1 cat, 1282x512": jpeg(person_and_cat), "1 dog, 640x520": jpeg(dog)}


def measure(backend: Backend, runs: int) -> dict:
    """In a fresh process: p50/p95 per stage and end to end for each photo, peak RSS, model names."""
    started = time.perf_counter()
    pipeline = Pipeline(backend=backend)
    figures: dict = {"load s": time.perf_counter() - started, "models": pipeline.models, "photos": {}}
    for name, photo in test_photos().items():
        pipeline.analyze_bytes(photo)  # warm-up
        stages: dict[str, list[float]] = {}
        for _ in range(runs):
            began = time.perf_counter()
            result = pipeline.analyze_bytes(photo)
            for stage, milliseconds in {**result.timings_ms, "total": (time.perf_counter() - began) * 1000}.items():
                stages.setdefault(stage, []).append(milliseconds)
        figures["photos"][name] = {"found": len(result.detections), "stages": {
            stage: (np.percentile(samples, 50), np.percentile(samples, 95)) for stage, samples in stages.items()}}
    figures["peak rss MB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--backends", default="onnx,torch", help="classifier backends to compare")
    args = parser.parse_args()
    backends = [Backend(name.strip()) for name in args.backends.split(",")]
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=1) as pool:
        results = {backend: pool.submit(measure, backend, args.runs).result() for backend in backends}
    print(f"{args.runs} runs per photo; p50 / p95 in ms")
    for backend, figures in results.items():
        print(f"{backend}: models loaded in {figures['load s']:.1f} s; {figures['models']['classifier']}")
    header = "".join(f"{backend:>24}" for backend in backends)
    for name in results[backends[0]]["photos"]:
        print(f"\n{name}: {results[backends[0]]['photos'][name]['found']} found\n  {'stage':<14}{header}")
        for stage in results[backends[0]]["photos"][name]["stages"]:
            cells = "".join("{:>15.1f} / {:>6.1f}".format(*results[backend]["photos"][name]["stages"][stage])
                            for backend in backends)
            print(f"  {stage:<14}{cells}")
    print("\npeak resident memory with all models loaded: " +
          ", ".join(f"{backend} {figures['peak rss MB']:.0f} MB" for backend, figures in results.items()))


if __name__ == "__main__":
    main()
