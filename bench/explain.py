"""Which explanation is better, and what does one cost? The deletion test on real faces.

    python -m bench.explain --data ../shared/datasets/fer2013 [--split val] [--images 200]

For each face (48x48, the classifier's own input), each method's map ranks the pixels;
hiding them most-salient-first (grey), the top emotion's probability should fall fast.
Prints the mean area under that deletion curve (lower is better) for occlusion,
Grad-CAM and a random ranking, how often each method beats random, and the time of
one full explanation of a face in a photo (both maps and their overlays).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from skimage import data as skdata

from inference.explain import Explainer, Predict
from inference.labels import HUMAN_EMOTIONS, DetectionKind
from inference.pipeline import Pipeline
from training.data import load_split


def deletion_curve(predict: Predict, crop: np.ndarray, saliency: np.ndarray, target: int,
                   steps: int = 10) -> np.ndarray:
    """The target's probability as the most salient pixels are greyed out, 0%, 10%, ... 100% of them."""
    order = np.argsort(-saliency.ravel(), kind="stable")
    fill = crop.reshape(saliency.size, -1).mean(0).astype(crop.dtype)
    copies = np.repeat(crop[None], steps + 1, axis=0)
    for step, copy in enumerate(copies):
        hidden = order[:round(step / steps * saliency.size)]
        copy.reshape(saliency.size, -1)[hidden] = fill
    return predict(copies)[:, target]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--split", default="val")
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    pipeline = Pipeline()
    explainer = Explainer.for_pipeline(pipeline)
    classifier = pipeline.classifier
    images, _ = load_split(args.data / args.split, HUMAN_EMOTIONS)
    rng = np.random.default_rng(args.seed)
    chosen = images[rng.choice(len(images), size=min(args.images, len(images)), replace=False)]
    whole = (0, 0, images.shape[2], images.shape[1])  # the crop is the whole 48x48 face (no margin added)
    areas: dict[str, list[float]] = {"occlusion": [], "grad_cam": [], "random": []}
    for face in chosen:
        explanation = explainer.explain(np.repeat(face[..., None], 3, axis=2), whole, DetectionKind.HUMAN)
        target = classifier.classes.index(explanation.target)
        maps = {**explanation.maps, "random": rng.random(explanation.crop.shape)}
        for method, saliency in maps.items():
            curve = deletion_curve(lambda crops: classifier.predict(crops, flip_tta=False), explanation.crop,
                                   saliency, target)
            areas[method].append(float(np.trapezoid(curve, dx=1 / (len(curve) - 1))))
    print(f"{len(chosen)} {args.split} faces; deletion AUC (lower: the map found what mattered), mean ± sd:")
    for method, values in areas.items():
        wins = "" if method == "random" else \
            f", below random on {np.mean(np.array(values) < np.array(areas['random'])):.0%} of faces"
        print(f"  {method:<10} {np.mean(values):.3f} ± {np.std(values):.3f}{wins}")
    astronaut = skdata.astronaut()
    explainer.explain(astronaut, (180, 60, 268, 175), DetectionKind.HUMAN)  # warm-up
    began = time.perf_counter()
    explainer.explain(astronaut, (180, 60, 268, 175), DetectionKind.HUMAN).overlays()
    print(f"one face explained (both maps + overlays): {time.perf_counter() - began:.2f} s on {classifier.runner.name}")


if __name__ == "__main__":
    main()
