"""What happened in one video track, in words: its top emotion as stretches of time ("happy, then sad from
5.3 s"), with short flickers merged into their neighbours, worded by how sure the model was along the way as a
photo's reading is ("probably happy throughout", "unsure, perhaps happy, then sad from 5.3 s")."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate

from inference.labels import UNSURE_FROM_CHANCE, Certainty, Reading, reading_certainty
from inference.tracking import frame_seconds
from messages import N_, Phrase

MIN_STRETCH_SECONDS = 1.0  # a stretch shorter than this (or MIN_STRETCH_SHARE of the track) is a flicker
MIN_STRETCH_SHARE = 0.05
MAX_TOLD_STRETCHES = 3  # more stretches than this: the story is told by shares of time and the number of changes
QUALIFIERS = {Certainty.UNSURE: N_("unsure, perhaps "), Certainty.PROBABLY: N_("probably ")}  # as a photo's words


@dataclass(frozen=True)
class Stretch:
    """A stretch of the track with one top emotion: from `start` to `end` seconds, in view for `seconds` of them (a
    joined pet's time out of view left out)."""

    emotion: str
    start: float
    end: float
    confidence: float  # mean probability of `emotion` over the stretch's frames
    seconds: float


@dataclass(frozen=True)
class ClipStory:
    """A track's stretches, the sentence that tells them (in pieces, each with the emotion it names, so a page
    can colour them; the words between are Phrases, for translation), how sure the model was over the track
    (`confidence`: the mean probability of the emotions told, weighted by time), and the track's reading as the
    sentence tells it (`reading`: what dashboards, insights and alerts count the track as, so that they never name
    another emotion than its page, nor say it surer)."""

    stretches: list[Stretch]
    pieces: list[tuple[str, str | None]]
    confidence: float
    reading: Reading

    @property
    def certainty(self) -> Certainty:
        return self.reading.certainty

    @property
    def unsure(self) -> bool:
        return self.reading.unsure

    @property
    def text(self) -> str:
        return "".join(piece for piece, _ in self.pieces)

    @property
    def named(self) -> list[tuple[str, str | None]]:
        """The emotions the sentence names, in its order and as pieces, without its certainty word, times and
        shares: "happy", "happy, then sad", or, with many changes told by share, "happy, angry": what a page's
        chance of a wrong reading is about."""
        emotions = [emotion for _, emotion in self.pieces if emotion]
        between = Phrase(N_(", then ")) if len(self.stretches) <= MAX_TOLD_STRETCHES else ", "
        return [piece for emotion in emotions for piece in ((between, None), (emotion, emotion))][1:]

    @property
    def last(self) -> str:
        return self.stretches[-1].emotion

    @property
    def changes(self) -> list[dict]:
        """Where one stretch gives way to the next, as {"t", "from", "to"}: the changes the sentence tells, flickers
        merged (the track's raw `transitions`, frame by frame, can list a flicker the sentence leaves out)."""
        return [{"t": after.start, "from": before.emotion, "to": after.emotion}
                for before, after in zip(self.stretches, self.stretches[1:])]


def _top(emotions: dict[str, float]) -> str:
    return max(emotions, key=emotions.__getitem__)


def _runs(timeline: list[dict]) -> list[list]:
    """[emotion, first index, last index] for each run of frames with the same top emotion."""
    runs: list[list] = []
    for index, point in enumerate(timeline):
        top = _top(point["emotions"])
        if runs and runs[-1][0] == top:
            runs[-1][2] = index
        else:
            runs.append([top, index, index])
    return runs


def _merge_flickers(runs: list[list], in_view_before: list[float], shortest: float) -> list[list]:
    """Merge the shortest run into a neighbour until none is in view for less than `shortest` seconds
    (`in_view_before[i]`: the seconds the track was in view before its frame i): into the neighbours when they
    agree, else into the longer one. Of runs as short, one of the emotion with the least time in all is merged first
    (sad, fear, sad of a frame each became fear: the first sad, at the edge, merged into the fear, then the last)."""
    def seconds(i: int) -> float:
        return in_view_before[runs[i][2] + 1] - in_view_before[runs[i][1]]

    while len(runs) > 1:
        emotion_seconds: dict[str, float] = {}
        for i, (emotion, _, _) in enumerate(runs):
            emotion_seconds[emotion] = emotion_seconds.get(emotion, 0.0) + seconds(i)
        index = min(range(len(runs)),  # rounded: equal steps sum to unequal floats
                    key=lambda i: (round(seconds(i), 6), round(emotion_seconds[runs[i][0]], 6)))
        if seconds(index) >= shortest:
            break
        before, after = (runs[index - 1] if index > 0 else None), (runs[index + 1] if index + 1 < len(runs) else None)
        if before and (after is None or before[0] == after[0] or seconds(index - 1) >= seconds(index + 1)):
            before[2] = runs.pop(index)[2]
        else:
            after[1] = runs.pop(index)[1]
        for i in range(len(runs) - 1, 0, -1):  # neighbours that now agree become one run
            if runs[i][0] == runs[i - 1][0]:
                runs[i - 1][2] = runs.pop(i)[2]
    return runs


def _named_by_most_time(runs: list[list], tops: list[str], in_view_before: list[float]) -> list[list]:
    """Each run, flickers merged, named by the emotion on top for most of its time (the name it has, when as long),
    neighbours of one name then joined: frames of fear, fear, sad, sad, fear merged into one run of sad (the fear at
    the edge into the sad, then the first fear), which the page told as "sad" against its chart's 60% of fear."""
    for run in runs:
        time_on_top: dict[str, float] = {}
        for index in range(run[1], run[2] + 1):
            seconds = in_view_before[index + 1] - in_view_before[index]
            time_on_top[tops[index]] = time_on_top.get(tops[index], 0.0) + seconds
        longest = max(time_on_top, key=lambda emotion: (round(time_on_top[emotion], 6), emotion == run[0]))
        run[0] = longest
    joined: list[list] = []
    for run in runs:
        if joined and joined[-1][0] == run[0]:
            joined[-1][2] = run[2]
        else:
            joined.append(run)
    return joined


def stretches(timeline: list[dict]) -> list[Stretch]:
    """The track's top emotion over time as stretches, oldest first; a track without emotions has none. How long
    a stretch lasted is its time in view: a pet's emotion before it left the frame lasts until it left."""
    if not timeline or not timeline[0]["emotions"]:
        return []
    starts = [point["t"] for point in timeline]
    seconds_each = frame_seconds(starts)
    in_view_before = [0.0, *accumulate(seconds_each)]
    end = starts[-1] + seconds_each[-1]
    shortest = max(MIN_STRETCH_SECONDS, MIN_STRETCH_SHARE * in_view_before[-1])
    tops = [_top(point["emotions"]) for point in timeline]
    runs = _named_by_most_time(_merge_flickers(_runs(timeline), in_view_before, shortest), tops, in_view_before)
    return [Stretch(emotion, starts[first], starts[runs[i + 1][1]] if i + 1 < len(runs) else end,
                    sum(p["emotions"][emotion] for p in timeline[first:last + 1]) / (last - first + 1),
                    in_view_before[last + 1] - in_view_before[first])
            for i, (emotion, first, last) in enumerate(runs)]


def tell(parts: list[Stretch], share: dict[str, float], certainty: Certainty) -> list[tuple[str, str | None]]:
    """The story as pieces of text, each with the emotion it names (None for the words between), after the
    certainty's word ("probably ", "unsure, perhaps "): "happy throughout", "happy (81% of the time)" when flickers
    were merged into its one stretch, "happy, then sad from 5.3 s", or, with many changes, the two main emotions'
    shares and the number of changes: "happy (68% of the time), angry (32%), 3 changes"."""
    qualifier = [(Phrase(QUALIFIERS[certainty]), None)] if certainty in QUALIFIERS else []
    return qualifier + _story(parts, share)


def moment_text(seconds: float) -> str:
    """A moment as the pages write it (web.i18n.seconds): to the hundredth where it has one ("2.28", "2.5", "2.0"),
    so that a story's "then angry from 2.28 s" names the moment its list of changes does (it said "2.3 s")."""
    hundredths = f"{seconds:.2f}"
    return hundredths[:-1] if hundredths.endswith("0") else hundredths


def _story(parts: list[Stretch], share: dict[str, float]) -> list[tuple[str, str | None]]:
    if len(parts) == 1:
        emotion = parts[0].emotion
        written = f"{share.get(emotion, 1.0):.0%}"
        if written == "100%":  # as the share is written: never "(100% of the time)"
            return [(emotion, emotion), (Phrase(N_(" throughout")), None)]
        return [(emotion, emotion), (Phrase(N_(" (%(share)s of the time)"), share=written), None)]
    if len(parts) <= MAX_TOLD_STRETCHES:
        pieces = [(parts[0].emotion, parts[0].emotion)]
        for part in parts[1:]:
            pieces += [(Phrase(N_(", then ")), None), (part.emotion, part.emotion),
                       (Phrase(N_(" from %(seconds)s s"), seconds=moment_text(part.start)), None)]
        return pieces
    first, second = sorted(share, key=share.__getitem__, reverse=True)[:2]
    return [(first, first), (Phrase(N_(" (%(share)s of the time), "), share=f"{share[first]:.0%}"), None),
            (second, second), (Phrase(N_(" (%(share)s), %(count)d changes"), share=f"{share[second]:.0%}",
                                      count=len(parts) - 1), None)]


def told_mix(parts: list[Stretch], share: dict[str, float]) -> dict[str, float]:
    """The share of the clip each emotion the story tells has, by its frames (`share`, the card's "Share of time"),
    among the emotions the story tells (a flicker merged into a stretch still counts as what it was: the sentence
    "angry, then relaxed from 4.8 s" over 11 angry and 12 relaxed frames reads relaxed, the emotion its card's chart
    puts first); when it tells many changes by the share of time, that share."""
    if len(parts) > MAX_TOLD_STRETCHES:
        return dict(share)
    told = {part.emotion: share.get(part.emotion, 0.0) for part in parts}
    total = sum(told.values())
    return {emotion: value / total for emotion, value in told.items()} if total > 0 else \
        {emotion: 1 / len(told) for emotion in told}


def clip_story(timeline: list[dict], share: dict[str, float], uncertain: bool = False) -> ClipStory | None:
    """The story of a track's timeline (None without an emotion model), worded as a photo's reading of the
    stretches' emotions' mean probability, weighted by time, would be ("probably" under 80%, "unsure" under 50%);
    unsure whatever that probability when the track's readings were flagged `uncertain` (most frames:
    inference/uncertainty.py)."""
    parts = stretches(timeline)
    if not parts:
        return None
    total = sum(part.seconds for part in parts) or 1.0
    confidence = sum(part.confidence * (part.seconds or total / len(parts)) for part in parts) / total
    certainty = reading_certainty(confidence, uncertain)
    mix = told_mix(parts, share)
    main = max(mix, key=mix.__getitem__)  # of the emotions the sentence tells, the one most frames had
    return ClipStory(parts, tell(parts, share, certainty), confidence, Reading(main, certainty, mix, confidence))


def track_story(timeline: list[dict] | None, share: dict[str, float], uncertain: bool | None,
                uncertainty: float | None) -> ClipStory | None:
    """A stored video track's story, as its page tells it: unsure when most of its frames were flagged
    (`uncertain`), or when its frames' mean chance of a wrong reading (a face's stored `uncertainty`) reaches
    UNSURE_FROM_CHANCE."""
    flagged = bool(uncertain) or (uncertainty or 0.0) >= UNSURE_FROM_CHANCE
    return clip_story(timeline or [], share, flagged)


def told_changes(timeline: list[dict] | None, share: dict[str, float], uncertain: bool | None,
                 uncertainty: float | None) -> int:
    """How many times a stored video track's emotion changes as its page tells it: the changes of its story
    (flickers merged into their neighbours), never a frame-to-frame flicker the page leaves out; 0 without a story."""
    story = track_story(timeline, share, uncertain, uncertainty)
    return 0 if story is None else len(story.changes)
