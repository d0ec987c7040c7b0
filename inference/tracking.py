"""Greedy IoU tracking of detections across sampled video frames.

Each detection is matched to the live track whose last box overlaps it most
(IoU above a threshold); unmatched detections start new tracks, and a track
that has not been seen for `max_gap` sampled frames ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Box = tuple[float, float, float, float]


def intersection(a: Box, b: Box) -> float:
    """The area two (x1, y1, x2, y2) boxes share."""
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def covered_fraction(inner: Box, outer: Box) -> float:
    """How much of box `inner` lies inside box `outer` (a labelled head inside a detection, say)."""
    return intersection(inner, outer) / max(1e-9, (inner[2] - inner[0]) * (inner[3] - inner[1]))


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes."""
    intersection_area = intersection(a, b)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - intersection_area
    return intersection_area / union if union > 0 else 0.0


@dataclass
class Track:
    """The frame indices and boxes of one tracked subject."""

    track_id: int
    kind: str
    frames: list[int] = field(default_factory=list)
    boxes: list[Box] = field(default_factory=list)

    @property
    def last_frame(self) -> int:
        return self.frames[-1]


class IoUTracker:
    """Assigns a track id to every detection, frame by frame."""

    def __init__(self, min_iou: float = 0.3, max_gap: int = 8):
        self.min_iou = min_iou
        self.max_gap = max_gap
        self.tracks: list[Track] = []

    def update(self, frame_index: int, boxes: list[Box], kinds: list[str]) -> list[int]:
        """Match this frame's boxes to tracks; returns the track id of each box, in order."""
        live = [t for t in self.tracks if frame_index - t.last_frame <= self.max_gap]
        pairs = sorted(
            ((iou(box, track.boxes[-1]), b, track) for b, box in enumerate(boxes) for track in live
             if track.kind == kinds[b]),
            key=lambda pair: pair[0], reverse=True,
        )
        assigned: dict[int, Track] = {}
        used: set[int] = set()
        for overlap, b, track in pairs:
            if overlap < self.min_iou:
                break
            if b not in assigned and track.track_id not in used:
                assigned[b] = track
                used.add(track.track_id)
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
