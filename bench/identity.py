"""Face signatures on a public face-identity set: verification and "Is this Ana?" suggestions.

    python -m bench.identity --data DIR [--cache FILE] [--min-photos 20] [--users 40]

DIR is Labeled Faces in the Wild laid out as DIR/Person_Name/Person_Name_0001.jpg (for example data/raw/ of
the public repository jwmqms/lfw_gender). Each photo's face is found by the app's MTCNN (the detection nearest
the centre, as LFW centres its subject) and signed by inference.identity; signatures are cached in FILE.

Prints, per half of the people (chosen by name: "select" picks nothing, both halves are reported):
- verification over every pair of photos: the distance at a false-accept rate (FAR) of 1% and the true-accept
  rate (TAR) there, and TAR / FAR at the app's SAME_PERSON_DISTANCE;
- groups of unnamed faces (the People & pets page) over the same simulated histories, nobody named yet:
  purity (grouped faces whose group's most common person is theirs) and groups per person;
- a simulated user's history: several people with dozens of photos each plus strangers (people seen once),
  in random order; the user names each person's first photos, then every new face is matched to the named
  faces as the app does; a confirmed or corrected face joins the named ones. Precision = right suggestions /
  suggestions (a stranger suggested as anyone is wrong); coverage = suggestions / faces of named people.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from inference.identity import GROUP_DISTANCE, SAME_PERSON_DISTANCE, get_signature_model, group_indices, nearest_label

NAMED_FIRST = 3  # the photos of each person the simulated user names before suggestions start
PEOPLE_PER_USER = 5
STRANGERS_PER_USER = 30


def load_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def central_box(boxes: list[tuple[float, ...]], width: int, height: int) -> list[int] | None:
    """The detected box whose centre is nearest the photo's centre."""
    if not boxes:
        return None
    box = min(boxes, key=lambda b: ((b[0] + b[2]) / 2 - width / 2) ** 2 + ((b[1] + b[3]) / 2 - height / 2) ** 2)
    return [int(round(value)) for value in box]


def chosen_photos(data: Path, min_photos: int, strangers: int) -> dict[str, list[Path]]:
    """People with at least min_photos photos (all of them), and `strangers` people seen once (their first)."""
    folders = sorted(folder for folder in data.iterdir() if folder.is_dir())
    photos = {folder.name: sorted(folder.glob("*.jpg")) for folder in folders}
    frequent = {name: paths for name, paths in photos.items() if len(paths) >= min_photos}
    singles = [name for name, paths in photos.items() if len(paths) == 1][:strangers]
    return frequent | {name: photos[name] for name in singles}


def signatures(photos: dict[str, list[Path]], cache: Path) -> dict[str, np.ndarray]:
    """Signature per photo path (str), computed once and kept in `cache` (resumable)."""
    from inference.pipeline import get_pipeline

    known = dict(np.load(cache)) if cache.exists() else {}
    todo = [path for paths in photos.values() for path in paths if str(path) not in known]
    detector, model = get_pipeline().detector, get_signature_model()
    started = time.perf_counter()
    for count, path in enumerate(todo, start=1):
        rgb = load_rgb(path)
        box = central_box([d.box for d in detector.detect_batch([rgb])[0]], rgb.shape[1], rgb.shape[0])
        if box is not None:
            known[str(path)] = model.embed(rgb, [box])[0]
        if count % 200 == 0 or count == len(todo):
            np.savez(cache, **known)
            print(f"  signed {count}/{len(todo)} photos, {(time.perf_counter() - started) / count * 1000:.0f} ms each",
                  flush=True)
    return known


def half_of(name: str) -> str:
    return "A" if hashlib.sha1(name.encode()).digest()[0] % 2 == 0 else "B"


def verification(people: dict[str, np.ndarray]) -> dict[str, float]:
    """Distances of every same-person and different-person pair; the FAR-1% point and the app's threshold."""
    vectors = np.concatenate(list(people.values()))
    labels = np.concatenate([[index] * len(rows) for index, rows in enumerate(people.values())])
    distances = np.linalg.norm(vectors[:, None, :] - vectors[None, :, :], axis=2)
    upper = np.triu_indices(len(vectors), k=1)
    same = labels[upper[0]] == labels[upper[1]]
    genuine, impostor = distances[upper][same], distances[upper][~same]
    at_far_1 = float(np.quantile(impostor, 0.01))
    return {"pairs_same": len(genuine), "pairs_different": len(impostor), "distance_at_far_1": at_far_1,
            "tar_at_far_1": float((genuine < at_far_1).mean()),
            "tar_at_threshold": float((genuine < SAME_PERSON_DISTANCE).mean()),
            "far_at_threshold": float((impostor < SAME_PERSON_DISTANCE).mean())}


@dataclass
class Tally:
    right: int = 0
    wrong: int = 0
    stranger_wrong: int = 0
    named_faces: int = 0

    @property
    def precision(self) -> float:
        return self.right / max(1, self.right + self.wrong)

    @property
    def coverage(self) -> float:
        return self.right / max(1, self.named_faces)


def simulate_user(people: dict[str, np.ndarray], strangers: list[np.ndarray], rng: np.random.Generator,
                  threshold: float, tally: Tally) -> None:
    """One user's history in random order, suggestions as the app makes them (nearest named face)."""
    faces = [(index, vector) for index, rows in enumerate(people.values()) for vector in rows]
    faces += [(-1, vector) for vector in strangers]
    order = rng.permutation(len(faces))
    references: list[np.ndarray] = []
    labels: list[int] = []
    named_count = dict.fromkeys(range(len(people)), 0)
    for position in order:
        truth, vector = faces[position]
        if truth >= 0 and named_count[truth] >= NAMED_FIRST:
            tally.named_faces += 1
        if references and (truth < 0 or named_count[truth] >= NAMED_FIRST):
            match = nearest_label(vector, np.stack(references), labels, threshold)
            if match is not None:
                tally.right += match.label == truth
                tally.wrong += match.label != truth
                tally.stranger_wrong += truth < 0
        if truth >= 0:  # the user names (or confirms, or corrects) every face of the people they follow
            references.append(vector)
            labels.append(truth)
            named_count[truth] += 1


def history_figures(people: dict[str, np.ndarray], strangers: list[np.ndarray], users: int,
                    threshold: float) -> Tally:
    rng = np.random.default_rng(0)
    names = sorted(people)
    tally = Tally()
    for _ in range(users):
        chosen = rng.choice(len(names), size=min(PEOPLE_PER_USER, len(names)), replace=False)
        picked = {names[i]: rng.permutation(people[names[i]])[:rng.integers(24, 61)] for i in chosen}
        simulate_user(picked, strangers, rng, threshold, tally)
    return tally


def grouping_figures(people: dict[str, np.ndarray], strangers: list[np.ndarray], users: int) -> tuple[float, float]:
    """(purity, groups per person) of group_indices over simulated users' unnamed faces."""
    rng = np.random.default_rng(1)
    names = sorted(people)
    pure = grouped = groups_count = people_count = 0
    for _ in range(users):
        chosen = rng.choice(len(names), size=min(PEOPLE_PER_USER, len(names)), replace=False)
        strangers_truth = [-1 - n for n in range(len(strangers))]
        truth = np.concatenate([[i] * min(len(people[names[i]]), 40) for i in chosen] + [strangers_truth])
        vectors = np.concatenate([people[names[i]][:40] for i in chosen] + [np.stack(strangers)])
        for group in group_indices(vectors, GROUP_DISTANCE):
            labels, counts = np.unique(truth[group], return_counts=True)
            pure += int(counts.max())
            grouped += len(group)
            groups_count += int(labels[counts.argmax()] >= 0)  # a group of a followed person, not of strangers
        people_count += len(chosen)
    return pure / max(1, grouped), groups_count / max(1, people_count)


def report(half: str, people: dict[str, np.ndarray], strangers: list[np.ndarray], users: int) -> None:
    figures = verification(people)
    photos = sum(len(rows) for rows in people.values())
    print(f"\nhalf {half}: {len(people)} people, {photos} photos, {len(strangers)} strangers")
    print(f"  verification ({figures['pairs_same']} same-person pairs, {figures['pairs_different']} different):"
          f" TAR {figures['tar_at_far_1']:.4f} at FAR 1% (distance {figures['distance_at_far_1']:.3f});"
          f" at the app's threshold {SAME_PERSON_DISTANCE}: TAR {figures['tar_at_threshold']:.4f},"
          f" FAR {figures['far_at_threshold']:.5f}")
    purity, per_person = grouping_figures(people, strangers, users)
    print(f"  groups of unnamed faces at {GROUP_DISTANCE}: purity {purity:.4f}, {per_person:.2f} groups per person")
    for threshold in (0.35, 0.4, 0.45, 0.5, 0.55, 0.6):
        tally = history_figures(people, strangers, users, threshold)
        mark = "  <- the app's" if threshold == SAME_PERSON_DISTANCE else ""
        print(f"  user histories ({users} users) at {threshold:.2f}: precision {tally.precision:.4f}"
              f" ({tally.wrong} wrong of {tally.right + tally.wrong}, {tally.stranger_wrong} on strangers),"
              f" coverage {tally.coverage:.3f}{mark}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="LFW: DIR/Person_Name/*.jpg")
    parser.add_argument("--cache", type=Path, default=Path(".cache/identity_signatures.npz"))
    parser.add_argument("--min-photos", type=int, default=20, help="people with at least this many photos")
    parser.add_argument("--max-photos", type=int, default=60, help="use at most this many photos per person")
    parser.add_argument("--users", type=int, default=40, help="simulated users per half")
    args = parser.parse_args()
    args.cache.parent.mkdir(parents=True, exist_ok=True)
    photos = chosen_photos(args.data, args.min_photos, 2 * STRANGERS_PER_USER)
    photos = {name: paths[:args.max_photos] for name, paths in photos.items()}
    signed = signatures(photos, args.cache)
    for half in ("A", "B"):
        rows = {name: np.stack([signed[str(p)] for p in paths if str(p) in signed])
                for name, paths in photos.items() if half_of(name) == half and any(str(p) in signed for p in paths)}
        people = {name: vectors for name, vectors in rows.items() if len(vectors) >= args.min_photos}
        strangers = [vectors[0] for name, vectors in rows.items() if name not in people]
        report(half, people, strangers, args.users)


if __name__ == "__main__":
    main()
