"""How many tracks a video's pets get, against how many pets it shows: the joining of a pet's tracks by its look
(inference/tracking.py `rejoined`) measured on real clips, at several thresholds from one read of each clip.

    python -m bench.pet_tracks --clips DIR --truth TRUTH.json [--thresholds 0.7,0.75,0.8,0.85,0.9]

TRUTH.json lists each clip with the pets it shows, counted by eye: [{"file": "01-pomeranian.mp4", "dog": 1,
"cat": 0}, ...]. For each threshold (and without joining) it prints the tracks of each kind against the pets,
the tracks too many (one pet split in several) and the pets too many (two pets joined, at least), and the clips
whose every kind comes out right. The clips and the truth are not in this repository (weights/README.md says
which were measured).
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path

from inference.labels import DetectionKind
from inference.pipeline import get_pipeline
from inference.tracking import SAME_PET_LOOK
from inference.video import ReadClip, VideoAnalyzer, final_tracks

PETS = (DetectionKind.DOG, DetectionKind.CAT)


@dataclass(frozen=True)
class Count:
    """One clip's tracks of each pet kind at one threshold, against its pets."""

    tracks: dict[str, int]
    pets: dict[str, int]

    @property
    def split(self) -> int:
        return sum(max(0, self.tracks[kind] - self.pets[kind]) for kind in PETS)

    @property
    def joined_too_far(self) -> int:
        return sum(max(0, self.pets[kind] - self.tracks[kind]) for kind in PETS)


def pet_tracks(clip: ReadClip, threshold: float, min_frames: int) -> dict[str, int]:
    """How many tracks of each pet kind the clip reports once joined at `threshold` (inf: not joined), as the
    app finishes them (`final_tracks`)."""
    kept = final_tracks(clip.tracks, threshold, min(min_frames, clip.frames_analysed))
    return {kind: sum(1 for track in kept if track.kind == kind) for kind in PETS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=Path, required=True)
    parser.add_argument("--truth", type=Path, required=True)
    parser.add_argument("--thresholds", default="0.7,0.75,0.8,0.85,0.9")
    args = parser.parse_args()
    thresholds = [math.inf] + sorted({float(t) for t in args.thresholds.split(",")} | {SAME_PET_LOOK})
    analyzer = VideoAnalyzer(get_pipeline())
    counts: dict[float, list[Count]] = {threshold: [] for threshold in thresholds}
    for entry in json.loads(args.truth.read_text()):
        clip = analyzer.read_tracks(args.clips / entry["file"])
        pets = {kind: int(entry.get(kind, 0)) for kind in PETS}
        for threshold in thresholds:
            counts[threshold].append(Count(pet_tracks(clip, threshold, analyzer.min_track_frames), pets))
        before, shipped = counts[math.inf][-1].tracks, counts[SAME_PET_LOOK][-1].tracks
        print(f"{entry['file']}: pets {_kinds(pets)}; tracks not joined {_kinds(before)}, "
              f"joined at {SAME_PET_LOOK} {_kinds(shipped)}", flush=True)
    print(f"\n{len(counts[math.inf])} clips, {sum(sum(c.pets.values()) for c in counts[math.inf])} pets")
    print("joined at | dog tracks | cat tracks | tracks too many | pets too many | clips right")
    for threshold, clip_counts in counts.items():
        name = "not joined" if math.isinf(threshold) else f"{threshold:g}"
        dogs, cats = (sum(c.tracks[kind] for c in clip_counts) for kind in PETS)
        right = sum(1 for c in clip_counts if c.tracks == c.pets)
        print(f"{name} | {dogs} | {cats} | {sum(c.split for c in clip_counts)} | "
              f"{sum(c.joined_too_far for c in clip_counts)} | {right} of {len(clip_counts)}")


def _kinds(counts: dict[str, int]) -> str:
    return ", ".join(f"{counts[kind]} {kind}" for kind in PETS)


if __name__ == "__main__":
    main()
