"""How the pages read one appearance.

A photo's face (or animal) is read by its probabilities, a video track by its story (insights/clip.py): its
emotion is the one the story gives most of the clip, worded "unsure" or "probably" as the story is. Dashboards,
insights, alerts, weekly reports and exports all read appearances here, so none of them names another emotion,
or is surer, than the result page.
"""

from __future__ import annotations

from dataclasses import dataclass

from inference.labels import Certainty, reading_certainty
from insights.clip import track_story


@dataclass(frozen=True)
class Reading:
    """One appearance's reading as its card words it: its emotion, how sure, and the mix of emotions behind it
    (a photo's probabilities; a track's share of the clip as its story tells it), summing to 1."""

    emotion: str
    certainty: Certainty
    mix: dict[str, float]

    @property
    def unsure(self) -> bool:
        return self.certainty == Certainty.UNSURE


def reading_of(top: str | None, emotions: dict[str, float], uncertain: bool | None,
               uncertainty: float | None = None, timeline: list[dict] | None = None,
               summary: dict | None = None) -> Reading | None:
    """A stored detection's reading (None without an emotion model): a video track's (the one with a `summary`)
    by its story, told from its `timeline`; a photo's by its top probability and the uncertainty rule's flag."""
    if top is None:
        return None
    if summary is None:
        return Reading(top, reading_certainty(emotions[top], uncertain), emotions)
    story = track_story(timeline, summary["share"], uncertain, uncertainty)
    if story is None:  # a track stored without its frames' emotions: its mean, as a photo's
        return Reading(top, reading_certainty(emotions[top], uncertain), emotions)
    return Reading(story.main, story.certainty, story.mix)
