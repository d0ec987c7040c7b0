"""Greedy IoU tracking of detections across sampled video frames.

Each detection is matched to the live track whose last box overlaps it most
(IoU above a threshold). What is left is matched by distance, cautiously: a track
seen in the previous sampled frame continues with a detection whose centre lies
within `max_jump` box sizes of its last box, of a similar size, when each is the
other's clearly nearest (a dog running or a panning camera moves a box further
between two sampled frames than any overlap allows; two pets side by side are not
swapped, and a newcomer after a gap is not merged, though one who steps in the
very frame after someone left looks the same as that one moving). Unmatched detections start new
tracks, and a track that has not been seen for `max_gap` sampled frames ends.

Once the clip is read, a pet's tracks are joined (`rejoined`): a dog that runs out of view for longer than that, or
is seen again after a cut, starts a new track, which continues the earlier one when the two look alike (the mean of
the species pass's pooled features, `Detection.appearance`). People's tracks are not joined: telling one person
from another by their looks is face recognition, which is each user's choice (services/identity.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from inference.labels import DetectionKind

Box = tuple[float, float, float, float]
CLEAR_MARGIN = 1.5  # a distance match needs the next candidate at least this many times as far
# Two tracks of one kind whose mean looks have at least this cosine are one pet (`rejoined`): on the Oxford-IIIT Pet
# sample, photos of two animals of one breed reach it 4 times in 1,602 pairs (weights/README.md, "Video tracks")
SAME_PET_LOOK = 0.8
TRACK_WAIT = 8  # sampled frames a track waits for its subject before it ends


def longest_unseen_step(times: list[float]) -> float:
    """The most seconds between two of a track's frames (`times`) before it would have ended: TRACK_WAIT and a half
    of its usual step (the median; a slow video's frames are further apart). A longer step in a joined pet's track
    is time it was out of view; infinite for a track of fewer than two frames."""
    return (TRACK_WAIT + 0.5) * float(np.median(np.diff(times))) if len(times) > 1 else math.inf


def steps_away(times: list[float]) -> list[bool]:
    """For each step between a track's consecutive frames (`times`), whether it is time out of view (longer than
    `longest_unseen_step`): where its chart breaks and its story counts no time."""
    longest = longest_unseen_step(times)
    return [later - earlier > longest for earlier, later in zip(times, times[1:])]


def frame_seconds(times: list[float], end: float | None = None) -> list[float]:
    """How long each of a track's frames (`times`) stands for: the step to the next frame; the usual (median) step
    for a step out of view (`steps_away`: a joined pet's time away), the shortest step in view for the last frame
    (sampled from a 10 fps video at 4 a second, the steps alternate 0.3 and 0.2 s: a dog in every frame of a 3 s
    clip, the last at 2.8 s, was "seen for 3.1 s"), of those at least half the usual one (not two frames a moment
    apart), and no further than the clip's `end` when it is known (a cat in view from 5.0 s to the end of a 7.56 s
    clip, its last frame at 7.5 s, was "seen for 2.75 s", and with the dog before it 7.72 s of a 7.56 s clip); 0 for
    a lone frame. A track's time in view is their sum (its card's "seen for", its story's stretches)."""
    if len(times) < 2:
        return [0.0] * len(times)
    steps = [later - earlier for earlier, later in zip(times, times[1:])]
    usual = float(np.median(steps))
    away = steps_away(times)
    last = min(step for step, out_of_view in zip(steps, away) if not out_of_view and step >= usual / 2)
    if end is not None:  # a clip cut short ends at its last frame: that frame stands for no time after it
        last = max(0.0, min(last, end - times[-1]))
    return [usual if out_of_view else step for step, out_of_view in zip(steps, away)] + [last]


def area(box: Box) -> float:
    """The area of an (x1, y1, x2, y2) box (none for an inverted one)."""
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def intersection(a: Box, b: Box) -> float:
    """The area two (x1, y1, x2, y2) boxes share."""
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def covered_fraction(inner: Box, outer: Box) -> float:
    """How much of box `inner` lies inside box `outer` (a labelled head inside a detection, say)."""
    return intersection(inner, outer) / max(1e-9, (inner[2] - inner[0]) * (inner[3] - inner[1]))


def jump(a: Box, b: Box) -> float:
    """How far apart two boxes' centres are, in box sizes (the mean of their areas' square roots); infinite when
    one is more than 1.5 times the other's size (not the same subject seen again)."""
    sizes = [max(1e-9, (box[2] - box[0]) * (box[3] - box[1])) ** 0.5 for box in (a, b)]
    if max(sizes) > 1.5 * min(sizes):
        return float("inf")
    distance = ((a[0] + a[2] - b[0] - b[2]) ** 2 + (a[1] + a[3] - b[1] - b[3]) ** 2) ** 0.5 / 2
    return distance / (sum(sizes) / 2)


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes."""
    intersection_area = intersection(a, b)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - intersection_area
    return intersection_area / union if union > 0 else 0.0


@dataclass
class Track:
    """The frame indices and boxes of one tracked subject; `kind` is what it is followed as (only boxes of one kind
    continue a track: the video's TrackedAs, a person or a pet)."""

    track_id: int
    kind: str
    frames: list[int] = field(default_factory=list)
    boxes: list[Box] = field(default_factory=list)

    @property
    def last_frame(self) -> int:
        return self.frames[-1]


class IoUTracker:
    """Assigns a track id to every detection, frame by frame."""

    def __init__(self, min_iou: float = 0.3, max_gap: int = TRACK_WAIT, max_jump: float = 1.0):
        self.min_iou = min_iou
        self.max_gap = max_gap
        self.max_jump = max_jump
        self.tracks: list[Track] = []
        self.ended: set[int] = set()  # tracks ended before their time (`end`)

    def end(self, kind: str) -> None:
        """End every track of `kind` now (a scene cut: what comes next continues none of them by position)."""
        self.ended.update(track.track_id for track in self.tracks if track.kind == kind)

    def update(self, frame_index: int, boxes: list[Box], kinds: list[str]) -> list[int]:
        """Match this frame's boxes to tracks; returns the track id of each box, in order."""
        live = [t for t in self.tracks if frame_index - t.last_frame <= self.max_gap and t.track_id not in self.ended]
        candidates = [(b, box, track) for b, box in enumerate(boxes) for track in live if track.kind == kinds[b]]
        assigned: dict[int, Track] = {}
        by_overlap = [(-iou(box, track.boxes[-1]), b, track) for b, box, track in candidates]
        self._assign(by_overlap, -self.min_iou, assigned)
        self._assign(self._clear_jumps(frame_index, candidates, assigned), self.max_jump, assigned)
        ids = []
        for b, box in enumerate(boxes):
            track = assigned.get(b)
            if track is None:
                track = Track(track_id=len(self.tracks) + 1, kind=kinds[b])
                self.tracks.append(track)
            track.frames.append(frame_index)
            track.boxes.append(box)
            ids.append(track.track_id)
        return ids

    @staticmethod
    def _clear_jumps(frame_index: int, candidates: list[tuple[int, Box, Track]],
                     assigned: dict[int, Track]) -> list[tuple[float, int, Track]]:
        """(jump, box, track) for the left-over boxes and the left-over tracks seen in the previous sampled frame,
        kept only where the box and the track are each other's nearest by a margin (the next one at least
        `CLEAR_MARGIN` times as far)."""
        taken = {track.track_id for track in assigned.values()}
        pairs = [(jump(box, track.boxes[-1]), b, track) for b, box, track in candidates
                 if b not in assigned and track.track_id not in taken and track.last_frame == frame_index - 1]

        def clearly_nearest(cost: float, rivals: list[float]) -> bool:
            return all(rival >= CLEAR_MARGIN * cost for rival in rivals)

        return [(cost, b, track) for cost, b, track in pairs
                if clearly_nearest(cost, [c for c, other, t in pairs if other == b and t is not track])
                and clearly_nearest(cost, [c for c, other, t in pairs if t is track and other != b])]

    @staticmethod
    def _assign(pairs: list[tuple[float, int, Track]], limit: float, assigned: dict[int, Track]) -> None:
        """Greedily give each box not yet assigned the free track of lowest cost, up to `limit`."""
        used = {track.track_id for track in assigned.values()}
        for cost, b, track in sorted(pairs, key=lambda pair: pair[0]):
            if cost > limit:
                break
            if b not in assigned and track.track_id not in used:
                assigned[b] = track
                used.add(track.track_id)


@dataclass(frozen=True)
class TrackSpan:
    """What joining needs of a finished track: its id, kind, the times it was first and last seen, and its mean
    look (unit length; None for a kind that is not joined)."""

    track_id: int
    kind: DetectionKind
    first: float
    last: float
    look: np.ndarray | None


def rejoined(spans: list[TrackSpan], min_similarity: float = SAME_PET_LOOK) -> dict[int, int]:
    """The first track of the chain each track belongs to (its own id when it continues none). Taken in the order
    they began, a track continues the likest earlier track of its kind that ended before it began, is not yet
    continued, and looks alike (their looks' cosine at least `min_similarity`)."""
    first_of: dict[int, int] = {}
    continued: set[int] = set()
    for later in sorted(spans, key=lambda span: span.first):
        alike = [(float(earlier.look @ later.look), earlier.track_id) for earlier in spans
                 if earlier.kind == later.kind and earlier.look is not None and later.look is not None
                 and earlier.last < later.first and earlier.track_id not in continued]
        similarity, earlier_id = max(alike, default=(-1.0, None))
        if earlier_id is not None and similarity >= min_similarity:
            continued.add(earlier_id)
            first_of[later.track_id] = first_of[earlier_id]
        else:
            first_of[later.track_id] = later.track_id
    return first_of
