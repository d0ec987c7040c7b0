"""Train the pets' head-box regressor on Oxford-IIIT Pet head boxes, and measure it on photos it never saw.

    python -m training.pet_heads --xml-data DIR --csv-data DIR --out inference/weights/pet_head_box.pt
                                 [--first-set-out FILE]

--xml-data: Oxford-IIIT Pet photos with their VOC head boxes, laid out as images/NAME.jpg and
annotations/xmls/NAME.xml (for example the public repository Naveen-Dodda/Sample_Pets_dataset: 296 boxes,
three breeds). --csv-data: the 370-photo sample laid out as for `python -m bench.pets` (sample_images/,
sample_annotations/csv/bboxes.csv; LTSACH/AILearningHub, datasets/oxford-pets/data). Photos of the first set
that are also in the second are dropped from the first. The boxes are CC BY-SA 4.0 (Parkhi et al. 2012).

1. Crops as the app makes them: each of the photo's SSD boxes, else the whole photo (a close-up), cut square
   with inference.pet_species's margin; the first set's photos add --jitters crops of the SSD box that covers
   the head best (scale and shift), each also mirrored.
2. Features: EfficientNet-Lite0's last block (frozen ImageNet weights), cached under --cache.
3. Regressor (inference/pet_net.py): L1 + generalised-IoU loss on the head box in crop fractions.
4. Figures, on photos not trained on: trained on the first set only and measured on all of the second; then
   --folds-fold cross-validation on the second (each fold measured by a regressor trained on the first set and
   the other folds). A labelled head is found when a predicted head box (one per SSD pet, or the close-up)
   overlaps it with IoU >= 0.5; precision: predicted heads that match the labelled one (a lower bound: a second,
   unlabelled pet counts against it). The shipped regressor is trained on both sets.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import xml.etree.ElementTree as ElementTree
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.ops import box_iou, generalized_box_iou_loss
from tqdm import tqdm

from inference.crops import BODY_MARGIN, pet_body_crops, square_crop_box
from inference.detectors import SSDPetDetector
from inference.dog_emotion import imagenet_batch
from inference.labels import DetectionKind
from inference.specs import PET_INPUT_SIZE as INPUT_SIZE
from inference.backbone import efficientnet_lite0, run_blocks, stem
from inference.pet_net import HeadBoxRegressor
from inference.tracking import covered_fraction
from training.data import load_rgb

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class LabelledPet:
    name: str
    path: Path
    species: str
    head: Box


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--xml-data", type=Path, required=True)
    parser.add_argument("--csv-data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--first-set-out", type=Path,
                        help="also write the regressor trained on the first set only (for bench.pets on the second)")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds on the second set (0: none)")
    parser.add_argument("--jitters", type=int, default=1, help="jittered training crops per photo (and mirrors)")
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--cache", type=Path, default=Path(".cache/pet_heads"))
    return parser.parse_args(argv)


def xml_pets(folder: Path) -> list[LabelledPet]:
    """The head boxes of VOC files in annotations/xmls/ whose photo is in images/."""
    pets = []
    for xml in sorted((folder / "annotations" / "xmls").glob("*.xml")):
        root = ElementTree.parse(xml).getroot()
        photo = folder / "images" / root.findtext("filename")
        box = root.find("object/bndbox")
        if photo.is_file() and box is not None:
            head = tuple(float(box.findtext(key)) for key in ("xmin", "ymin", "xmax", "ymax"))
            pets.append(LabelledPet(xml.stem, photo, root.findtext("object/name"), head))
    return pets


def csv_pets(folder: Path) -> list[LabelledPet]:
    """The head boxes of the bench.pets sample."""
    with (folder / "sample_annotations" / "csv" / "bboxes.csv").open() as table:
        return [LabelledPet(row["image_name"], folder / "sample_images" / f"{row['species']}s" /
                            f"{row['image_name']}.jpg", row["species"],
                            tuple(float(row[key]) for key in ("xmin", "ymin", "xmax", "ymax")))
                for row in csv.DictReader(table)]


def pet_boxes(detector: SSDPetDetector, rgb: np.ndarray) -> list[Box]:
    """The SSD's pets, or the whole photo when it finds none (the app's close-up)."""
    return [d.box for d in detector.detect(rgb)] or [(0.0, 0.0, float(rgb.shape[1]), float(rgb.shape[0]))]


def jittered(box: Box, random: np.random.Generator) -> Box:
    x1, y1, x2, y2 = box
    scale, shift_x, shift_y = random.uniform(0.85, 1.2), *random.uniform(-0.08, 0.08, 2)
    width, height = (x2 - x1) * scale, (y2 - y1) * scale
    centre_x, centre_y = (x1 + x2) / 2 + shift_x * (x2 - x1), (y1 + y2) / 2 + shift_y * (y2 - y1)
    return centre_x - width / 2, centre_y - height / 2, centre_x + width / 2, centre_y + height / 2


def crop_target(head: Box, box: Box, width: int, height: int) -> tuple[Box, np.ndarray]:
    """The square the app crops around `box`, and the head box in fractions of it (clipped to the square)."""
    square = square_crop_box(box, width, height, BODY_MARGIN)
    side = square[2] - square[0]
    target = np.clip((np.array(head) - [square[0], square[1], square[0], square[1]]) / side, 0, 1)
    return square, target


class Trunk:
    """Frozen EfficientNet-Lite0 up to its last block, on uint8 crops."""

    def __init__(self):
        self.backbone = efficientnet_lite0().eval()

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            images = torch.from_numpy(imagenet_batch(crops))
            return run_blocks(self.backbone, stem(self.backbone, images)).numpy().astype(np.float16)


def mirrored_target(target: np.ndarray) -> np.ndarray:
    x1, y1, x2, y2 = target
    return np.array([1 - x2, y1, 1 - x1, y2], np.float32)


def samples(pets: list[LabelledPet], detector: SSDPetDetector, trunk: Trunk, jitters: int, seed: int,
            cache: Path) -> dict[str, np.ndarray]:
    """Every crop's features, head target (crop fractions), photo index, square (x, y, side) and whether it is
    a crop the app makes (an SSD pet or the close-up) rather than a jittered or mirrored one; cached."""
    key = hashlib.sha1(f"{[p.name for p in pets]}{jitters}{seed}".encode()).hexdigest()[:16]
    path = cache / f"samples-{key}.npz"
    if path.exists():
        return dict(np.load(path))
    random = np.random.default_rng(seed)
    columns: dict[str, list] = {"features": [], "targets": [], "owners": [], "squares": [], "as_app": []}
    for index, pet in enumerate(tqdm(pets, desc="crops", mininterval=10)):
        rgb = load_rgb(pet.path)
        height, width = rgb.shape[:2]
        boxes = pet_boxes(detector, rgb)
        best = max(boxes, key=lambda box: covered_fraction(pet.head, box))
        chosen = [(box, True) for box in boxes] + [(jittered(best, random), False) for _ in range(jitters)]
        crops = []
        for box, as_app in chosen:
            square, target = crop_target(pet.head, box, width, height)
            crop = pet_body_crops(rgb, [box], INPUT_SIZE)[0]
            variants = [(crop, target, as_app)] + ([] if as_app else [(crop[:, ::-1], mirrored_target(target), False)])
            for image, goal, app_made in variants:
                crops.append(image)
                columns["targets"].append(goal)
                columns["owners"].append(index)
                columns["squares"].append((square[0], square[1], square[2] - square[0]))
                columns["as_app"].append(app_made)
        columns["features"].append(trunk(np.ascontiguousarray(np.stack(crops))))
    result = {name: np.concatenate(values) if name == "features" else np.array(values)
              for name, values in columns.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **result)
    return result


def train_regressor(features: np.ndarray, targets: np.ndarray, epochs: int, seed: int) -> HeadBoxRegressor:
    torch.manual_seed(seed)
    regressor = HeadBoxRegressor()
    inputs, goals = torch.from_numpy(features).float(), torch.from_numpy(targets).float()
    optimizer = torch.optim.AdamW(regressor.parameters(), lr=2e-3, weight_decay=1e-2)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs)
    for _ in range(epochs):
        regressor.train()
        for batch in torch.randperm(len(inputs)).split(128):
            boxes = regressor(F.dropout(inputs[batch], 0.2, training=True))
            loss = F.l1_loss(boxes, goals[batch]) + generalized_box_iou_loss(boxes, goals[batch], reduction="mean")
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        schedule.step()
    return regressor.eval()


def predicted_heads(regressor: HeadBoxRegressor, features: np.ndarray, squares: np.ndarray) -> np.ndarray:
    """Head boxes in image pixels, from crop fractions and each crop's square (x, y, side)."""
    with torch.no_grad():
        fractions = regressor(torch.from_numpy(features).float()).numpy()
    return fractions * squares[:, 2:3] + squares[:, [0, 1, 0, 1]]


def measure(regressor: HeadBoxRegressor, data: dict[str, np.ndarray], pets: list[LabelledPet],
            photos: np.ndarray, tally: dict[DetectionKind, Counter]) -> None:
    """Add the app-made crops of `photos` (indices into pets) to per-species found / predicted / matched counts."""
    for index in photos:
        rows = (data["owners"] == index) & data["as_app"]
        heads = predicted_heads(regressor, data["features"][rows], data["squares"][rows])
        overlaps = box_iou(torch.tensor(heads), torch.tensor([pets[index].head])).numpy()[:, 0]
        counts = tally[pets[index].species]
        counts["labelled"] += 1
        counts["found"] += bool((overlaps >= 0.5).any())
        counts["predicted"] += len(heads)
        counts["matched"] += int((overlaps >= 0.5).sum())
        counts["iou sum"] += float(overlaps.max())


def species_tally() -> dict[DetectionKind, Counter]:
    """Empty per-species counts, for `measure`."""
    return {DetectionKind.DOG: Counter(), DetectionKind.CAT: Counter()}


def report(title: str, tally: dict[DetectionKind, Counter]) -> dict:
    print(title)
    figures = {}
    for species, counts in {**tally, "all": sum(tally.values(), Counter())}.items():
        figures[species] = {"recall": counts["found"] / max(1, counts["labelled"]),
                            "precision": counts["matched"] / max(1, counts["predicted"]),
                            "mean best IoU": counts["iou sum"] / max(1, counts["labelled"]),
                            "photos": counts["labelled"]}
        print(f"  {species}: recall {figures[species]['recall']:.3f} ({counts['found']}/{counts['labelled']}), "
              f"precision {figures[species]['precision']:.3f} ({counts['matched']}/{counts['predicted']}), "
              f"mean best IoU {figures[species]['mean best IoU']:.3f}")
    return figures


def rows_of(data: dict[str, np.ndarray], photos: np.ndarray) -> np.ndarray:
    return np.isin(data["owners"], photos)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    held_out = csv_pets(args.csv_data)
    names = {pet.name for pet in held_out}
    extra = [pet for pet in xml_pets(args.xml_data) if pet.name not in names]
    print(f"{len(extra)} photos from {args.xml_data} ({dict(Counter(p.species for p in extra))}), "
          f"{len(held_out)} from {args.csv_data} ({dict(Counter(p.species for p in held_out))})")
    detector, trunk = SSDPetDetector(), Trunk()
    first = samples(extra, detector, trunk, args.jitters, args.seed, args.cache)
    second = samples(held_out, detector, trunk, 0, args.seed, args.cache)  # as the app crops them
    regressor = train_regressor(first["features"], first["targets"], args.epochs, args.seed)
    tally = species_tally()
    measure(regressor, second, held_out, np.arange(len(held_out)), tally)
    figures = {"first set only": report(f"trained on {args.xml_data.name} only, measured on all of {args.csv_data}",
                                        tally)}
    if args.first_set_out:
        save_regressor(regressor, {"first set only": figures["first set only"]}, len(extra), args.first_set_out)
    if args.folds > 1:
        folds = np.random.default_rng(args.seed).permutation(len(held_out)) % args.folds
        tally = species_tally()
        for fold in range(args.folds):
            training = rows_of(second, np.flatnonzero(folds != fold))
            regressor = train_regressor(np.concatenate([first["features"], second["features"][training]]),
                                        np.concatenate([first["targets"], second["targets"][training]]),
                                        args.epochs, args.seed)
            measure(regressor, second, held_out, np.flatnonzero(folds == fold), tally)
        figures["cross-validated"] = report(f"{args.folds}-fold cross-validation on {args.csv_data}", tally)
    regressor = train_regressor(np.concatenate([first["features"], second["features"]]),
                                np.concatenate([first["targets"], second["targets"]]), args.epochs, args.seed)
    save_regressor(regressor, figures, len(extra) + len(held_out), args.out)


def save_regressor(regressor: HeadBoxRegressor, figures: dict, photos: int, out: Path) -> None:
    """The file inference/pet_net.load_regressor reads: the state, the figures measured and the photos trained on."""
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state": regressor.state_dict(), "metrics": json.dumps(figures), "photos": photos}, out)
    print(f"regressor written to {out}")


if __name__ == "__main__":
    main()
