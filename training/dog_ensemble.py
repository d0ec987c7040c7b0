"""Combine dog-emotion weights files written by training.dogs into one ensemble, measured on the same split.

    python -m training.dog_ensemble --data DOG_EMOTION_REPO/images --out inference/weights/dog_emotion_head.pt \
        MEMBER.pt [MEMBER.pt ...] [--cache .cache/dogs]

The members (fine-tuned or linear heads, all on --crop body) read the app's body crops of the val and test photos
in which the app finds a dog, from `training.dogs`' split (the same cleaning, copy groups and seed: no test photo
or copy of one was trained on). The ensemble (inference/dog_net.PetEnsemble) averages their log-probabilities.
Prints each member's and the ensemble's val and test macro-F1, the test report, and a paired bootstrap 95%
interval of the ensemble's test macro-F1 gain over the first member; writes the ensemble (the members' files
inside it, with their test figures), then its temperature fitted on val (as training.dogs does).

Each member's log-probabilities are cached in --cache by the member file's SHA-256, so a rerun with one more
member reads only that one; the members not cached yet run as one PetEnsemble (their shared frozen blocks
once). --choose keeps, of every combination of the members given whose files total at most --max-mb (the shipped
file's size), the one with the best val macro-F1 (the fewest members on a tie; printed as a table), so the choice
never looks at test.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from itertools import combinations
from pathlib import Path

import numpy as np
import torch

from inference.backends import file_sha256
from inference.calibration import softmax
from inference.dog_emotion import imagenet_batch
from inference.dog_net import PetEnsemble, load_head, pet_emotion_net
from training.dog_split import DogSplit, add_split_arguments
from training.dogs import dog_data, write_temperature
from training.evaluate import format_report
from training.metrics import bootstrap_interval, macro_f1, summary

BATCH = 64


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("members", nargs="+", type=Path, help="weights files written by training.dogs --crop body")
    parser.add_argument("--data", type=Path, required=True, help="the folder training.dogs read")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=1234, help="training.dogs' split seed")
    parser.add_argument("--cache", type=Path, default=Path(".cache/dogs"), help="training.dogs' cache")
    parser.add_argument("--choose", action="store_true",
                        help="keep the combination of the members with the best val macro-F1")
    parser.add_argument("--max-mb", type=float, default=float("inf"),
                        help="with --choose: only combinations whose members' files total at most this many MB")
    add_split_arguments(parser)
    return parser.parse_args(argv)


def member_log_probabilities(ensemble: PetEnsemble, crops: np.ndarray) -> np.ndarray:
    """Each member's log-probabilities for uint8 RGB crops, (members, N, classes), in batches."""
    batches = (torch.from_numpy(imagenet_batch(crops[start:start + BATCH])) for start in range(0, len(crops), BATCH))
    with torch.inference_mode():
        return np.concatenate([ensemble.member_log_probabilities(batch).numpy() for batch in batches], 1)


def each_members_outputs(paths: list[Path], stored: list[dict], crops: dict[str, np.ndarray],
                         cache: Path) -> list[dict[str, np.ndarray]]:
    """Every member's log-probabilities of the val and test crops, cached by its file's SHA-256 and the crops'
    bytes; the members not cached yet run together, sharing their frozen blocks (PetEnsemble)."""
    digest = hashlib.sha1()
    for part in crops.values():
        digest.update(part.tobytes())
    crops_key = digest.hexdigest()[:12]
    cached = [cache / f"ensemble-member-{file_sha256(path)[:16]}-{crops_key}.npz" for path in paths]
    missing = [index for index, path in enumerate(cached) if not path.exists()]
    if missing:
        ensemble = PetEnsemble([pet_emotion_net(stored[index]) for index in missing])
        outputs = {name: member_log_probabilities(ensemble, part) for name, part in crops.items()}
        cache.mkdir(parents=True, exist_ok=True)
        for row, index in enumerate(missing):
            np.savez(cached[index], **{name: output[row] for name, output in outputs.items()})
    loaded = []
    for path in cached:
        with np.load(path) as stored_outputs:
            loaded.append({name: stored_outputs[name] for name in crops})
    return loaded


def best_combination(outputs: list[dict[str, np.ndarray]], labels: np.ndarray, paths: list[Path],
                     max_mb: float = float("inf")) -> tuple[int, ...]:
    """The members' indices whose averaged val log-probabilities score the best macro-F1 (fewest members on a
    tie) among the combinations whose files total at most `max_mb` MB, each printed with its score and size."""
    file_mb = [path.stat().st_size / 1e6 for path in paths]
    scored = []
    for count in range(1, len(outputs) + 1):
        for chosen in combinations(range(len(outputs)), count):
            total_mb = sum(file_mb[index] for index in chosen)
            if total_mb > max_mb:
                continue
            score = summary(labels, np.mean([outputs[index][DogSplit.VAL] for index in chosen], 0))["macro_f1"]
            scored.append((score, -count, chosen))
            print(f"val macro-F1 {score:.4f}  {total_mb:5.1f} MB  " + " + ".join(paths[index].name for index in chosen))
    if not scored:
        raise SystemExit(f"no member's file is within --max-mb {max_mb:g}")
    return max(scored)[2]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    stored = [load_head(path) for path in args.members]
    if any("members" in member for member in stored):
        raise SystemExit("a member is itself an ensemble: give its members' files instead")
    classes = tuple(stored[0]["classes"])
    if any(tuple(member["classes"]) != classes for member in stored):
        raise SystemExit("the members were trained on different classes")
    data = dog_data(args.data, args.cache, classes, seed=args.seed, split_file=args.split_file)
    read = data.read(data.body_found)
    targets = {name: data.labels[read[name]] for name in (DogSplit.VAL, DogSplit.TEST)}
    crops = {name: data.body_crops[read[name]] for name in targets}
    each_output = each_members_outputs(args.members, stored, crops, args.cache)
    for path, outputs in zip(args.members, each_output):
        scores = {name: summary(targets[name], outputs[name])["macro_f1"] for name in targets}
        print(f"member {path.name}: val macro-F1 {scores['val']:.4f}, test macro-F1 {scores['test']:.4f}")
    if args.choose:
        chosen = best_combination(each_output, targets[DogSplit.VAL], args.members, args.max_mb)
        args.members, stored, each_output = ([items[index] for index in chosen]
                                              for items in (args.members, stored, each_output))
    logits = {name: np.mean([outputs[name] for outputs in each_output], 0) for name in targets}
    print(f"ensemble of {len(stored)}: val macro-F1 {summary(targets['val'], logits['val'])['macro_f1']:.4f}")
    report, metrics = format_report(classes, targets[DogSplit.TEST], softmax(logits[DogSplit.TEST]))
    print(f"test split\n{report}")
    low, high = bootstrap_interval(targets[DogSplit.TEST], each_output[0][DogSplit.TEST].argmax(1),
                                   logits[DogSplit.TEST].argmax(1),
                                   lambda labels, predictions: macro_f1(labels, predictions, len(classes)))
    print(f"test macro-F1 gain over {args.members[0].name}: 95% interval {low:+.3f} .. {high:+.3f}")
    members = [{**member, "file": path.name, "sha256": file_sha256(path)} for path, member in zip(args.members, stored)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"classes": list(classes), "members": members, "test_macro_f1": metrics["macro_f1"],
                "test_accuracy": metrics["accuracy"],
                "metrics": json.dumps({**metrics, "crop": "body", "splits": {k: len(v) for k, v in targets.items()},
                                       "test_gain_interval": [low, high]})}, args.out)
    write_temperature(logits, targets, args.out)  # after the weights: the record holds their hash
    print(f"weights written to {args.out}")


if __name__ == "__main__":
    main()
