"""Video analysis: sample frames, detect and track faces, classify in batches, smooth, summarise.

Frames are decoded in a process of their own (inference/video_decode.py), by OpenCV's
FFmpeg backend, which applies the container's rotation metadata itself, and sampled at
`fps` (default 4 per second) by their timestamps. A container's frame rate is not
trusted: at most the longest length's worth of frames at MAX_FRAME_RATE are decoded (a
"1000 fps" header would let 30,000 frames pass as 30 seconds), and a frame past the
longest length by its own timestamp stops the decoding. The crops of a batch of frames go through the classifier in one
forward pass. A pet is tracked by its body box whatever species a frame's vote gave
it, and its track is the species most of its frames were (`TrackResult.settled`); a
pet's tracks that continue one another (out of view for a while, or after a cut) are
joined by how the pet looks (inference/tracking.py `rejoined`). Each
track's probabilities are smoothed with an exponential moving average before the
summary (dominant emotion, share of time, the time it was seen, and the moments
where the dominant emotion changes).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field, replace
from pathlib import Path
from enum import StrEnum
from typing import TypedDict

import cv2
import numpy as np

from inference.errors import CorruptMedia
from inference.labels import DetectionKind
from inference.detectors import Detection
from inference.pipeline import Classified, Pipeline
from inference.tracking import SAME_PET_LOOK, Box, IoUTracker, TrackSpan, frame_seconds, rejoined
from inference.uncertainty import frequent_signals
from inference.video_check import VideoInfo, probe_video
from inference.video_decode import sample_frames
from messages import N_, Phrase

ProgressCallback = Callable[[float], None]
NO_FRAMES = Phrase(N_("The video has no readable frames."))
SPLIT_MIN_FRAMES = 4  # a pet track is split where its species changed for good (`TrackResult.parts`): each part this
SPLIT_PURITY = 0.8    # many frames at least, and this share of each one species
SHOWN_AS_FOUND = 1 / 3  # a dog track shown by its detector's box in this share of its frames is shown so in all
CUT_THUMBNAIL, CUT_BINS, CUT_BELOW = (64, 36), (8, 4, 4), 0.5  # a scene cut's colour change (`CutFinder`)


def decoded_duration(header_seconds: float, last_sample: float, fps: float) -> float:
    """How long the video is: its header's duration, unless the frames end well before it (a truncated file: the
    frames and the scrubber stop where the frames do, and no frame is looked for past it), or run past it."""
    if last_sample + max(1.0, 2.0 / fps) < header_seconds:
        return last_sample
    return max(header_seconds, last_sample)


def nearest_moment(timeline: list[dict], seconds: float) -> dict:
    """A track's timeline moment nearest `seconds` (the poster frame's time: the track's box is taken there)."""
    return min(timeline, key=lambda moment: abs(moment["t"] - seconds))


def frames_of(path: Path, fps: float, max_seconds: float, timeline: list[TimelinePoint],
              progress: ProgressCallback | None = None) -> Iterator[tuple[TimelinePoint, np.ndarray]]:
    """Each moment of a track's timeline with the frame it was read from: the clip sampled at `fps` again, as it was
    when the timeline was made, its frames matched by time (within a quarter of a step); decoding stops after the
    last moment, and a moment whose frame no longer decodes is left out. `progress` hears how far the decoding is
    towards the last moment, once a second of video (a track seen late in a clip waits for the frames before it)."""
    tolerance = 0.25 / fps
    moments = iter(timeline)
    moment = next(moments, None)
    last = timeline[-1]["t"] if timeline else 0.0
    for index, (timestamp, frame) in enumerate(sample_frames(path, fps, max_seconds)):
        if progress and index % max(1, round(fps)) == 0:
            progress(min(0.99, timestamp / max(last, 1e-6)))
        while moment is not None and moment["t"] < timestamp - tolerance:
            moment = next(moments, None)
        if moment is None:
            return
        if abs(moment["t"] - timestamp) <= tolerance:
            yield moment, frame
            moment = next(moments, None)


def smooth(probabilities: np.ndarray, alpha: float) -> np.ndarray:
    """Exponential moving average over time (rows), renormalised; alpha=1 keeps the raw values."""
    smoothed = np.empty_like(probabilities)
    for row, values in enumerate(probabilities):
        smoothed[row] = values if row == 0 else alpha * values + (1 - alpha) * smoothed[row - 1]
    return smoothed / smoothed.sum(1, keepdims=True)


def seen_for(times: list[float], end: float | None = None) -> float:
    """How long a track was in view: each frame standing for its step (`frame_seconds`: the last one too, so a dog
    in all 32 frames of an 8 s clip is seen for 8 s, not 7.75; a joined pet's time away left out), as its story
    counts it."""
    return float(sum(frame_seconds(times, end)))


def summarize(times: list[float], probabilities: np.ndarray, classes: tuple[str, ...],
              end: float | None = None) -> tuple[TrackSummary, list[Transition]]:
    """Dominant emotion, share of time in each emotion, mean probabilities, the time seen (`seen_for`: a joined
    pet's time out of view left out, nothing past the clip's `end`); and the transitions. Without classes (a kind
    with no emotion model) the dominant emotion is None and nothing changes."""
    tops = probabilities.argmax(1) if classes else np.zeros(len(times), dtype=int)
    shares = np.bincount(tops, minlength=len(classes)) / len(tops) if classes else np.zeros(0)
    summary: TrackSummary = {
        "dominant": classes[int(shares.argmax())] if classes else None,
        "share": {label: round(float(s), 4) for label, s in zip(classes, shares)},
        "mean": {label: round(float(m), 4) for label, m in zip(classes, probabilities.mean(0))},
        "duration": round(seen_for(times, end), 3),
        "frames": len(times),
    }
    transitions = [
        {"t": round(times[i], 3), "from": classes[int(tops[i - 1])], "to": classes[int(tops[i])]}
        for i in range(1, len(tops)) if tops[i] != tops[i - 1]
    ]
    return summary, transitions


class TrackSummary(TypedDict):
    """A track's emotions over the whole clip (stored as JSON on its detection row)."""

    dominant: str | None
    share: dict[str, float]
    mean: dict[str, float]
    duration: float
    frames: int


class TimelinePoint(TypedDict):
    t: float
    box: list[int]
    emotions: dict[str, float]
    uncertain: bool | None  # this frame's face reading was unsure (inference/uncertainty.py); None for pets


# A moment the dominant emotion changes ("from" is a keyword, hence the functional form).
Transition = TypedDict("Transition", {"t": float, "from": str, "to": str})


@dataclass
class VideoTrack:
    """One tracked subject of a video, as stored and shown: its summary, smoothed timeline and changes."""

    track_id: int
    kind: DetectionKind
    score: float
    summary: TrackSummary
    timeline: list[TimelinePoint]
    transitions: list[Transition]
    uncertainty: float | None = None  # faces: the frames' mean uncertainty score
    uncertain: bool | None = None  # faces: most frames were unsure
    unsure_signals: list[str] | None = None  # faces, when unsure: what made most of its unsure frames unsure


@dataclass
class TrackResult:
    """A track while the frames come in: each frame's kind, box, reading and look. A pet's track follows the animal
    whatever species each frame's vote gave it (`settled` keeps the frames of the species most of them gave);
    `classes` of each kind are empty for a kind without an emotion model (cats)."""

    track_id: int
    kind: DetectionKind  # the first frame's: a person's for good, a pet's until `settled`
    classes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    kinds: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    boxes: list[list[int]] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    raw: list[np.ndarray] = field(default_factory=list)
    uncertainty: list[float | None] = field(default_factory=list)
    uncertain: list[bool | None] = field(default_factory=list)
    unsure_signals: list[list[str] | None] = field(default_factory=list)
    looks: list[np.ndarray | None] = field(default_factory=list)  # Detection.appearance (people: None)
    found: list[list[int] | None] = field(default_factory=list)  # Detection.detected (dogs), else None

    def add(self, timestamp: float, detection: Detection, reading: Classified) -> None:
        """One more frame of the track."""
        self.classes.setdefault(detection.kind, tuple(reading.emotions))
        self.kinds.append(detection.kind)
        self.times.append(timestamp)
        self.boxes.append([round(v) for v in detection.box])
        self.scores.append(detection.score)
        self.raw.append(np.array(list(reading.emotions.values())))
        self.uncertainty.append(reading.uncertainty)
        self.uncertain.append(reading.uncertain)
        self.unsure_signals.append(reading.unsure_signals)
        self.looks.append(detection.appearance)
        self.found.append(None if detection.detected is None else [round(v) for v in detection.detected])

    @property
    def majority_kind(self) -> str:
        """The kind most of its frames were given (the first seen of two as many)."""
        counts = Counter(self.kinds)
        return max(dict.fromkeys(self.kinds), key=counts.__getitem__)

    def span(self) -> TrackSpan:
        """When it was seen, its kind and how it looked on average (unit length; None without looks: people)."""
        looks = [look for look in self.looks if look is not None]
        mean = np.mean(looks, axis=0) if looks else None
        unit = None if mean is None else mean / max(float(np.linalg.norm(mean)), 1e-9)
        return TrackSpan(self.track_id, self.majority_kind, self.times[0], self.times[-1], unit)

    def then(self, later: TrackResult) -> TrackResult:
        """This track and a later one of the same subject (`rejoined`) as one, its frames after this one's (neither
        is changed)."""
        frames = {name: getattr(self, name) + getattr(later, name) for name in FRAME_FIELDS}
        return TrackResult(self.track_id, self.kind, {**later.classes, **self.classes}, **frames)

    def settled(self) -> TrackResult:
        """The track as the kind most of its frames were given, with only those frames: a cat that some frames'
        votes called a dog is one cat, not a cat and a dog (their readings were the other kind's model's)."""
        kind = self.majority_kind
        return self._frames([index for index, frame_kind in enumerate(self.kinds) if frame_kind == kind],
                            self.track_id, kind)

    def parts(self, same_pet_look: float) -> list[TrackResult]:
        """The track, or its two parts where the species its frames were given changed for good and the two do not
        look like one pet (a dog, then a cat where it was, after a cut `CutFinder` missed: the walk-through's
        letterboxed clip lost its dog): each part at least SPLIT_MIN_FRAMES frames, SPLIT_PURITY of them one
        species, the two species different, their looks' cosine below `same_pet_look` (`rejoined`'s test of one
        pet). Both parts keep its id: `final_tracks` gives the second its own."""
        at = self._species_change()
        if at is None:
            return [self]
        before = self._frames(range(at), self.track_id, self.kind)
        after = self._frames(range(at, len(self.kinds)), self.track_id, DetectionKind(self.kinds[at]))
        first_look, second_look = before.span().look, after.span().look
        if first_look is not None and second_look is not None and float(first_look @ second_look) >= same_pet_look:
            return [self]
        return [before, after]

    def _species_change(self) -> int | None:
        """The frame where the species its frames were given changed for good (see `parts`), if it did."""
        if len(set(self.kinds)) < 2:
            return None
        best: tuple[int, int] | None = None  # (frames agreeing with their part's species, where the second begins)
        for at in range(SPLIT_MIN_FRAMES, len(self.kinds) - SPLIT_MIN_FRAMES + 1):
            (first_kind, first_count), = Counter(self.kinds[:at]).most_common(1)
            (second_kind, second_count), = Counter(self.kinds[at:]).most_common(1)
            pure = first_count >= SPLIT_PURITY * at and second_count >= SPLIT_PURITY * (len(self.kinds) - at)
            if pure and first_kind != second_kind and (best is None or first_count + second_count > best[0]):
                best = (first_count + second_count, at)
        return None if best is None else best[1]

    def _frames(self, indices: Iterable[int], track_id: int, kind: DetectionKind) -> TrackResult:
        """A track of these frames of this one, with `track_id`, as `kind`."""
        kept = list(indices)
        frames = {name: [getattr(self, name)[index] for index in kept] for name in FRAME_FIELDS}
        return TrackResult(track_id, kind, {kind: self.classes[kind]}, **frames)

    def shown_boxes(self) -> list[list[int]]:
        """Each frame's box as the player draws it: a dog shown by the box it was found at, not its head box, in at
        least SHOWN_AS_FOUND of its frames (its head box lay on a person's face there: pet_species._head_off_faces)
        is shown so in every frame, so that its box does not swell and shrink from one frame to the next."""
        as_found = [found is not None and found == box for found, box in zip(self.found, self.boxes)]
        if not any(as_found) or sum(as_found) < SHOWN_AS_FOUND * len(self.boxes):
            return self.boxes
        return [found or box for found, box in zip(self.found, self.boxes)]

    def finish(self, alpha: float, end: float | None = None) -> VideoTrack:
        """Smooth the probabilities over time (alpha) and summarise the track (`summarize`; a joined pet's time out
        of view is not time seen, nor any past the clip's `end`), as its kind."""
        classes = self.classes[self.kind]
        smoothed = smooth(np.stack(self.raw), alpha) if classes else np.zeros((len(self.times), 0))
        summary, transitions = summarize(self.times, smoothed, classes, end)
        timeline: list[TimelinePoint] = [
            {"t": round(t, 3), "box": box, "emotions": {label: round(float(p), 4) for label, p in zip(classes, row)},
             "uncertain": flag}
            for t, box, row, flag in zip(self.times, self.shown_boxes(), smoothed, self.uncertain)
        ]
        rated = None not in self.uncertain
        unsure = bool(np.mean(self.uncertain) > 0.5) if rated else None
        return VideoTrack(self.track_id, self.kind, round(float(np.mean(self.scores)), 4), summary, timeline,
                          transitions, round(float(np.mean(self.uncertainty)), 4) if rated else None, unsure,
                          (frequent_signals(self.unsure_signals) if unsure else []) if rated else None)


class TrackedAs(StrEnum):
    """What the tracker follows a detection as (`tracked_as`): a person, or a pet of either species."""

    PERSON = DetectionKind.HUMAN.value
    PET = "pet"


Poster = tuple[int, float, np.ndarray | None]  # the most detections in one frame so far, its time and the frame


class CutFinder:
    """Tells a scene cut from the colours of consecutive sampled frames: their hue-saturation-value histograms'
    correlation below CUT_BELOW (chosen on real clips: weights/README.md, "Video tracks")."""

    def __init__(self) -> None:
        self.previous: np.ndarray | None = None

    def is_cut(self, frame: np.ndarray) -> bool:
        """Whether `frame` (RGB) begins a new scene after the frame it was last shown."""
        small = cv2.cvtColor(cv2.resize(frame, CUT_THUMBNAIL, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2HSV)
        colours = cv2.calcHist([small], [0, 1, 2], None, list(CUT_BINS), [0, 180, 0, 256, 0, 256]).flatten()
        previous, self.previous = self.previous, colours
        return previous is not None and cv2.compareHist(previous, colours, cv2.HISTCMP_CORREL) < CUT_BELOW


FRAME_FIELDS = ("kinds", "times", "boxes", "scores", "raw", "uncertainty", "uncertain", "unsure_signals", "looks",
                "found")


def tracked_as(detection: Detection) -> tuple[Box, TrackedAs]:
    """The box and kind the tracker follows a detection by: a pet by its body whatever species its frame's vote
    gave it (a dog is reported by its head), so that a flip of the vote does not start a new track."""
    if detection.kind == DetectionKind.HUMAN:
        return detection.box, TrackedAs.PERSON
    return detection.body or detection.box, TrackedAs.PET


def join_tracks(tracks: dict[int, TrackResult], same_pet_look: float) -> list[TrackResult]:
    """The tracks with each pet's continuations joined to its first track (`rejoined`), in their order."""
    first_of = rejoined([track.span() for track in tracks.values()], same_pet_look)
    joined: dict[int, TrackResult] = {}
    for track in sorted(tracks.values(), key=lambda track: track.times[0]):
        first = first_of[track.track_id]
        joined[first] = joined[first].then(track) if first in joined else track
    return sorted(joined.values(), key=lambda track: track.track_id)


def final_tracks(tracks: dict[int, TrackResult], same_pet_look: float, min_frames: int) -> list[TrackResult]:
    """The tracks a clip reports: joined (`join_tracks`), split where one pet took another's place (`parts`: the
    second part numbered after the clip's tracks), each as the kind most of its frames were (`settled`), and kept
    when they hold at least `min_frames` frames."""
    next_id = itertools.count(max(tracks, default=0) + 1)
    parts = [part if index == 0 else replace(part, track_id=next(next_id))
             for track in join_tracks(tracks, same_pet_look) for index, part in enumerate(track.parts(same_pet_look))]
    settled = [part.settled() for part in sorted(parts, key=lambda part: part.track_id)]
    return [track for track in settled if len(track.times) >= min_frames]


@dataclass
class ReadClip:
    """A clip read frame by frame: its probe, its tracks by id (not yet joined), how many frames were analysed, the
    last one's time and the poster (detections, time, frame)."""

    info: VideoInfo
    tracks: dict[int, TrackResult]
    frames_analysed: int
    last_time: float
    poster: tuple[int, float, np.ndarray | None]


@dataclass
class VideoResult:
    """Everything the pipeline found in one video: its size and length, how densely it was sampled, the tracks
    of faces and pets, the models that read them, and the poster frame (the first with the most faces and pets)."""

    width: int
    height: int
    duration: float
    fps_sampled: float
    frames_analysed: int
    tracks: list[VideoTrack]
    models: dict[str, str]
    classifiers: dict[str, str]  # the emotion model of each kind, by kind (Pipeline.classifier_names)
    poster_time: float
    poster_rgb: np.ndarray | None = None
    stated_duration: float | None = None  # the header's duration when the frames end well before it (a cut file)


class VideoAnalyzer:
    """Runs the image pipeline's detector and classifier over a video's sampled frames.

    Two savings against running the photo pipeline on every sampled frame, both measured by
    `python -m bench.video`: faces smaller than `min_face_size` pixels (at the detector's
    640 px scale) are not searched for, since a crop that small carries little expression;
    and while no pet is in sight, only every `pet_scan_every`-th sampled frame is searched
    for pets (once one is seen, every frame is, until a batch of frames shows none).
    A batch holds `batch_frames` frames, fewer when they are larger than 1080p: at most `batch_pixels` pixels
    together (`python -m bench.upload_memory`: a 4 s 4K clip cost +418 MB eight frames at a time, +112 MB two).
    """

    def __init__(self, pipeline: Pipeline, fps: float = 4.0, batch_frames: int = 8, smoothing: float = 0.5,
                 min_track_frames: int = 2, min_face_size: int = 40, pet_scan_every: int = 4,
                 batch_pixels: int = 8 * 1920 * 1080):
        self.pipeline = pipeline
        self.fps = fps
        self.batch_frames = batch_frames
        self.batch_pixels = batch_pixels
        self.smoothing = smoothing
        self.min_track_frames = min_track_frames
        self.min_face_size = min_face_size
        self.pet_scan_every = pet_scan_every

    def analyze(self, path: Path, max_seconds: float = 120.0,
                progress: ProgressCallback | None = None) -> VideoResult:
        """The clip's tracks (a pet's continuations joined), smoothed and summarised."""
        clip = self.read_tracks(path, max_seconds, progress)
        kept = final_tracks(clip.tracks, SAME_PET_LOOK, min(self.min_track_frames, clip.frames_analysed))
        duration = decoded_duration(clip.info.duration, clip.last_time, self.fps)
        return VideoResult(
            width=clip.info.width, height=clip.info.height, duration=duration,
            stated_duration=clip.info.duration if duration < clip.info.duration else None, fps_sampled=self.fps,
            frames_analysed=clip.frames_analysed, models=self.pipeline.models,
            classifiers=self.pipeline.classifier_names, poster_time=clip.poster[1], poster_rgb=clip.poster[2],
            tracks=[t.finish(self.smoothing, duration) for t in kept],
        )

    def read_tracks(self, path: Path, max_seconds: float = 120.0,
                    progress: ProgressCallback | None = None) -> ReadClip:
        """Every sampled frame detected, classified and tracked, in batches (tracks not yet joined or summarised)."""
        info = probe_video(path, max_seconds)
        batch_size = self._batch_size(info)
        tracker, tracks, cuts = IoUTracker(), {}, CutFinder()
        poster: Poster = (-1, 0.0, None)
        batch: list[tuple[float, np.ndarray]] = []
        frames_analysed = 0
        last_time = 0.0
        for timestamp, frame in sample_frames(path, self.fps, max_seconds):
            batch.append((timestamp, frame))
            if len(batch) == batch_size:
                poster = self._process(batch, frames_analysed, tracker, cuts, tracks, poster)
                frames_analysed += len(batch)
                last_time = batch[-1][0]
                batch = []
                if progress:
                    progress(min(0.99, last_time / max(info.duration, 1e-6)))
        if batch:
            poster = self._process(batch, frames_analysed, tracker, cuts, tracks, poster)
            frames_analysed += len(batch)
            last_time = batch[-1][0]
        if frames_analysed == 0:
            raise CorruptMedia(NO_FRAMES)
        return ReadClip(info, tracks, frames_analysed, last_time, poster)

    def _batch_size(self, info: VideoInfo) -> int:
        """How many frames of this clip go through the networks together: `batch_frames`, fewer for large frames."""
        return max(1, min(self.batch_frames, self.batch_pixels // max(1, info.width * info.height)))

    def read_track_as(self, path: Path, timeline: list[TimelinePoint], kind: DetectionKind, max_seconds: float = 120.0,
                      progress: ProgressCallback | None = None, end: float | None = None) -> VideoTrack:
        """A stored track read again as `kind` (a pet whose species its owner set): its box in each of its frames
        (`frames_of`) read by that species' emotion model as `analyze` reads a pet of it, smoothed and summarised
        the same way, no frame standing for time past `end` (the clip's duration as `analyze` found it). Raises
        CorruptMedia when none of its frames decodes."""
        batch_size = self._batch_size(probe_video(path, max_seconds))
        track = TrackResult(0, kind)
        with closing(frames_of(path, self.fps, max_seconds, timeline, progress)) as moments:  # a failure ends its
            while batch := list(itertools.islice(moments, batch_size)):  # decoding child now: its traceback keeps
                pets = [Detection.set_by_owner(moment["box"], kind) for moment, _ in batch]  # this frame's locals
                readings = self.pipeline.read_as([frame for _, frame in batch], pets, flip_tta=False)
                for (moment, _), pet, reading in zip(batch, pets, readings):
                    track.add(moment["t"], pet, reading)
        if not track.times:
            raise CorruptMedia(NO_FRAMES)
        return track.finish(self.smoothing, end)  # `end`: the clip's duration as `analyze` found it

    def _process(self, batch: list[tuple[float, np.ndarray]], first_index: int, tracker: IoUTracker,
                 cuts: CutFinder, tracks: dict[int, TrackResult], poster: Poster) -> Poster:
        """Detect in all frames of the batch, track, and classify every crop (one pass per model); at a scene cut
        the pets' tracks end (`CutFinder`: the joining by look carries a pet across it, not its place)."""
        frames = [frame for _, frame in batch]
        recently = batch[0][0] - (self.pet_scan_every + 0.5) / self.fps  # within the last scan interval
        pets_in_sight = any(track.kind != DetectionKind.HUMAN and track.times[-1] >= recently
                            for track in tracks.values())
        scan_pets = [pets_in_sight or (first_index + offset) % self.pet_scan_every == 0
                     for offset in range(len(frames))]
        detections_per_frame = self.pipeline.detect_batch(frames, self.min_face_size, scan_pets)
        if any(d.kind != DetectionKind.HUMAN for found in detections_per_frame for d in found):
            unscanned = [not scanned for scanned in scan_pets]  # a pet is in sight: look in every frame
            self.pipeline.add_pets(frames, detections_per_frame, unscanned)
        classified_per_frame = self.pipeline.classify_batch(frames, detections_per_frame, flip_tta=False)
        for offset, (timestamp, detections, classified) in enumerate(
                zip([t for t, _ in batch], detections_per_frame, classified_per_frame)):
            if cuts.is_cut(frames[offset]):
                tracker.end(TrackedAs.PET)
            followed = [tracked_as(detection) for detection in detections]
            ids = tracker.update(first_index + offset, [box for box, _ in followed], [kind for _, kind in followed])
            for detection, track_id, reading in zip(detections, ids, classified):
                tracks.setdefault(track_id, TrackResult(track_id, detection.kind)).add(timestamp, detection, reading)
            if len(detections) > poster[0]:
                poster = (len(detections), timestamp, frames[offset])
        return poster
