"""Where the time of one "Why?" goes: each stage of an explanation of a dog (tests/data/dingo-photo.png on a lawn)
and of a face (the astronaut), as inference/explain.py runs them, the median of several repeats.

    python -m bench.explain_speed [--repeats 5]

Prints per kind: the first explanation in the process (the dog's imports torch; each loads its Grad-CAM networks),
then a whole explanation with its overlays, finding the crop again, occlusion (on the deployed backend), Grad-CAM,
the overlays, and Grad-CAM with torch's default threads next to the explainer's TORCH_THREADS, run alternately.
The machine may be busy: compare figures of one run, not of two.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial

import numpy as np
from skimage import data as skdata

from bench.clips import dog_scene
from inference.explain import TORCH_THREADS, Explainer, grad_cam_map, occlusion_map, torch_threads
from inference.labels import DetectionKind
from inference.pipeline import get_pipeline

ASTRONAUT_FACE = (180, 60, 268, 175)


def seconds(run: Callable[[], object]) -> float:
    began = time.perf_counter()
    run()
    return time.perf_counter() - began


def photos(explainer: Explainer) -> dict[str, tuple[np.ndarray, tuple[float, ...]]]:
    """Each kind's photo and the box the pipeline stores for it."""
    scene, _ = dog_scene("dingo-photo.png")
    dog = next(pet for pet in explainer.find_pets(scene) if pet.kind == DetectionKind.DOG)
    return {DetectionKind.DOG: (scene, dog.box), DetectionKind.HUMAN: (skdata.astronaut(), ASTRONAUT_FACE)}


def stage_times(explainer: Explainer, kind: str, rgb: np.ndarray, box: tuple, repeats: int,
                default_threads: int) -> dict[str, list[float]]:
    """Seconds of a whole explanation and of each stage over `repeats` runs (Grad-CAM at both thread counts,
    alternately)."""
    classifier = explainer.classifiers[kind]
    crop = explainer.crop(rgb, box, kind)
    target = int(classifier.predict(crop[None])[0].argmax())
    patch = max(4, classifier.input_size // 6)
    networks = explainer.grad_cam_parts(kind)
    times: dict[str, list[float]] = {"whole": [], "crop": [], "occlusion": [], "grad_cam": [], "overlays": [],
                                     f"grad_cam, {default_threads} torch threads": []}
    for _ in range(repeats):
        times["crop"].append(seconds(lambda: explainer.crop(rgb, box, kind)))
        times["occlusion"].append(seconds(lambda: occlusion_map(lambda crops: classifier.predict(
            crops, flip_tta=False), crop, target, patch, patch // 2)))
        with torch_threads(TORCH_THREADS):
            times["grad_cam"].append(seconds(lambda: grad_cam_map(networks, crop, target)))
        with torch_threads(default_threads):
            times[f"grad_cam, {default_threads} torch threads"].append(
                seconds(lambda: grad_cam_map(networks, crop, target)))
        times["whole"].append(seconds(lambda: explainer.explain(rgb, box, kind).overlays()))
        explanation = explainer.explain(rgb, box, kind)
        times["overlays"].append(seconds(explanation.overlays))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    explainer = Explainer.for_pipeline(get_pipeline())
    cases = photos(explainer)
    first = {kind: seconds(partial(explainer.explain, rgb, box, kind)) for kind, (rgb, box) in cases.items()}
    import torch  # imported by the first explanation

    for kind, (rgb, box) in cases.items():
        times = stage_times(explainer, kind, rgb, box, args.repeats, torch.get_num_threads())
        runner = explainer.classifiers[kind].runner.name
        print(f"{kind} ({runner}): first in this process (loads its networks) {first[kind]:.2f} s; medians of "
              f"{args.repeats}: " + ", ".join(f"{stage} {statistics.median(values):.2f} s"
                                             for stage, values in times.items()))


if __name__ == "__main__":
    main()
