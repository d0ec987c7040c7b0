"""Combine trained emotion networks into one ensemble weights file, and report it on val.

    python -m training.ensemble --data ../shared/datasets/fer2013 --out inference/weights/emotion_fer2013.pt \
        MEMBER.pt [MEMBER.pt ...]

Each member is a file written by training.train (any architecture). The ensemble averages the
members' log-probabilities (inference/emotion_net.py, EmotionEnsemble); it is saved like a
single network, so evaluation, export, calibration and the app serve it unchanged. The val
accuracy and macro-F1 of every member and of the ensemble (flip TTA) are printed and stored
in the file's metadata, with each member's SHA-256 and training metadata.
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

import torch

from inference.backends import file_sha256
from inference.emotion_net import EmotionEnsemble, describe, load_weights, save_weights
from training.data import load_split
from training.train import evaluate_split

CPU = torch.device("cpu")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("members", nargs="+", help="weights files written by training.train")
    parser.add_argument("--data", required=True, help="folder with the val/ split")
    parser.add_argument("--split", default="val")
    parser.add_argument("--out", required=True, help="where to write the ensemble's weights")
    parser.add_argument("--cache", default=".cache/data", help="folder for decoded data-set arrays")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    loaded = [load_weights(path) for path in args.members]
    classes = loaded[0][1]
    if any(member_classes != classes for _, member_classes, _ in loaded):
        raise SystemExit("the members were trained on different classes")
    images, labels = load_split(Path(args.data) / args.split, classes, cache_dir=args.cache)
    members = []
    for path, (network, _, metadata) in zip(args.members, loaded):
        scores = evaluate_split(network, images, labels, CPU, use_bf16=False)
        print(f"member {path} ({describe(network.config())}, epoch {metadata.get('epoch', '?')}): "
              f"{args.split} accuracy {scores['accuracy']:.4f}, macro-F1 {scores['macro_f1']:.4f}", flush=True)
        members.append({"file": Path(path).name, "sha256": file_sha256(Path(path)), args.split: scores,
                        "trained": {key: metadata.get(key) for key in ("epoch", "args", "trained_on")}})
    ensemble = EmotionEnsemble([network for network, _, _ in loaded])
    scores = evaluate_split(ensemble, images, labels, CPU, use_bf16=False)
    print(f"ensemble of {len(members)}: {args.split} accuracy {scores['accuracy']:.4f}, "
          f"macro-F1 {scores['macro_f1']:.4f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    save_weights(ensemble, args.out, classes, {"data": args.data, args.split: scores, "members": members,
                                               "combined_on": date.today().isoformat()})
    print(json.dumps({"out": args.out, args.split: scores}))


if __name__ == "__main__":
    main()
