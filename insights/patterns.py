"""Patterns: clusters of a subject's emotion-probability vectors, and time-of-day / weekday effects.

Clusters: k-means for k = 2..5, k chosen by the silhouette score; reported only when the best
silhouette reaches MIN_SILHOUETTE and beats, by NULL_MARGIN, the silhouette that k-means reaches on
one Gaussian blob of the same mean and covariance (k-means splits any cloud; a real pattern
separates better than that). Otherwise the history has no distinct moods to describe.
Long histories are clustered on a fixed-size sample and every point is then assigned.
Time effects: a chi-square test of the top emotion against the time of day (or weekday against
weekend), reported only when p < ALPHA, with the cell that stands out most.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import chi2_contingency
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import silhouette_score

from insights.history import History, describe_mix
from messages import N_, Phrase

MIN_FOR_PATTERNS = 20
MIN_SILHOUETTE = 0.25
NULL_MARGIN = 0.1
MIN_CLUSTER_SHARE = 0.05  # a mood seen in fewer appearances is an outlier, not a pattern
NULL_REFERENCES = 3
MAX_CLUSTERS = 5
FIT_SAMPLE = 1000
ALPHA = 0.01
MIN_FOR_TIME_EFFECTS = 40
DAY_PARTS = ((0, "night"), (6, "morning"), (12, "afternoon"), (18, "evening"))  # starting hour, name


def _fit(points: np.ndarray, k: int, seed: int) -> tuple[KMeans, float]:
    with warnings.catch_warnings():  # fewer distinct points than k: k-means says so, and the score shows it
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = KMeans(k, n_init=1, random_state=seed).fit(points)
    try:
        return model, float(silhouette_score(points, model.labels_, sample_size=min(len(points), 500),
                                             random_state=seed))
    except ValueError:  # one label only (in the points, or in the sample the score drew): no structure to score
        return model, -1.0


def cluster(vectors: np.ndarray, seed: int = 0) -> tuple[np.ndarray, float, float, np.ndarray]:
    """(labels, silhouette, the null silhouette of one Gaussian blob, centroids) of the best k-means clustering."""
    rng = np.random.default_rng(seed)
    sample = vectors if len(vectors) <= FIT_SAMPLE else vectors[rng.choice(len(vectors), FIT_SAMPLE, replace=False)]
    fits = [_fit(sample, k, seed) for k in range(2, min(MAX_CLUSTERS, len(sample) // 5) + 1)]
    model, silhouette = max(fits, key=lambda fit: fit[1])
    blobs = [rng.multivariate_normal(sample.mean(0), np.cov(sample.T), len(sample)) for _ in range(NULL_REFERENCES)]
    null = float(np.mean([_fit(blob, model.n_clusters, seed)[1] for blob in blobs]))
    return model.predict(vectors), silhouette, null, model.cluster_centers_


def patterns(history: History, seed: int = 0, examples: int = 3) -> dict:
    """The subject's moods as clusters (share, mix in words, example analyses) and time effects. Groups clear enough
    (`silhouette` >= `min_silhouette`) are moods only when at least two hold `min_share` of the appearances each (a
    smaller one is a few odd appearances: `small_groups` when that leaves no moods)."""
    count = len(history)
    if count < MIN_FOR_PATTERNS:
        return {"enough": False, "count": count, "needed": MIN_FOR_PATTERNS}
    labels, silhouette, null, centres = cluster(history.vectors, seed)
    clusters = []
    grouped = silhouette >= max(MIN_SILHOUETTE, null + NULL_MARGIN)
    if grouped:
        for index, centre in enumerate(centres):
            members = np.flatnonzero(labels == index)
            if len(members) < MIN_CLUSTER_SHARE * count:
                continue
            nearest = members[np.argsort(np.linalg.norm(history.vectors[members] - centre, axis=1))]
            example_ids = list(dict.fromkeys(history.analysis_ids[i] for i in nearest))[:examples]
            mix = history.vectors[members].mean(0)
            clusters.append({"share": round(len(members) / count, 4), "count": int(len(members)),
                             "description": describe_mix(history.classes, mix),
                             "mix": {label: round(float(p), 4) for label, p in zip(history.classes, mix)},
                             "examples": example_ids})
        clusters = sorted(clusters, key=lambda item: -item["share"]) if len(clusters) >= 2 else []
    return {"enough": True, "count": count, "silhouette": round(silhouette, 3),
            "min_silhouette": round(max(MIN_SILHOUETTE, null + NULL_MARGIN), 3), "min_share": MIN_CLUSTER_SHARE,
            "small_groups": bool(grouped and not clusters), "clusters": clusters, "time_effects": time_effects(history)}


def time_effects(history: History) -> list[dict]:
    """Time of day and weekday/weekend effects on the top emotion that pass a chi-square test at ALPHA."""
    if len(history) < MIN_FOR_TIME_EFFECTS:
        return []
    hours = np.array([moment.hour for moment in history.times])
    weekdays = np.array([moment.weekday() for moment in history.times])
    day_parts = np.array([name for _, name in DAY_PARTS])[np.searchsorted([start for start, _ in DAY_PARTS], hours,
                                                                          side="right") - 1]
    groupings = {"time of day": day_parts, "day of week": np.where(weekdays >= 5, "weekend", "weekday")}
    return [effect for factor, groups in groupings.items()
            if (effect := _effect(factor, groups, history.tops, history.classes)) is not None]


def _effect(factor: str, groups: np.ndarray, tops: np.ndarray, classes: tuple[str, ...]) -> dict | None:
    names, group_index = np.unique(groups, return_inverse=True)
    used, top_index = np.unique(tops, return_inverse=True)
    if len(names) < 2 or len(used) < 2:
        return None
    table = np.zeros((len(names), len(used)), dtype=int)
    np.add.at(table, (group_index, top_index), 1)
    statistic, p_value, _, expected = chi2_contingency(table)
    if p_value >= ALPHA or expected.min() < 1:
        return None
    residuals = (table - expected) / np.sqrt(expected)
    row, column = np.unravel_index(np.argmax(residuals), residuals.shape)
    inside = table[row, column] / table[row].sum()
    outside = (table[:, column].sum() - table[row, column]) / max(table.sum() - table[row].sum(), 1)
    return {"factor": factor, "group": str(names[row]), "emotion": classes[used[column]],
            "share_in_group": round(float(inside), 4), "share_elsewhere": round(float(outside), 4),
            "test": Phrase(N_("chi-square test of independence")), "chi2": round(float(statistic), 2),
            "p_value": float(p_value), "table": {str(name): dict(zip((classes[e] for e in used), map(int, counts)))
                                                 for name, counts in zip(names, table)}}


MIN_VIDEOS = 10
CLIP_WORDS = {"changeable": N_("changeable clips, %(mix)s"), "steady": N_("steady clips, %(mix)s")}
CHANGEABLE_PER_MINUTE = 3.0


def transition_patterns(clips: list[tuple[int, float, int, np.ndarray]], classes: tuple[str, ...],
                        seed: int = 0) -> dict:
    """Clusters of a subject's video clips by how often their emotion changes as their stories tell it (per
    minute, log scale; a flicker the story merges is no change) and by their share of time per emotion.
    `clips`: (analysis id, seconds, changes, shares)."""
    if len(clips) < MIN_VIDEOS:
        return {"enough": False, "count": len(clips), "needed": MIN_VIDEOS}
    rates = np.array([changes / max(seconds / 60, 0.05) for _, seconds, changes, _ in clips])
    shares = np.stack([share for *_, share in clips])
    labels, silhouette, null, _ = cluster(np.column_stack([np.log1p(rates) / 2, shares]), seed)
    groups = []
    if silhouette >= max(MIN_SILHOUETTE, null + NULL_MARGIN):
        for index in sorted(set(labels.tolist())):
            members = np.flatnonzero(labels == index)
            rate = float(rates[members].mean())
            steadiness = "changeable" if rate >= CHANGEABLE_PER_MINUTE else "steady"
            groups.append({"count": int(len(members)), "share": round(len(members) / len(clips), 4),
                           "changes_per_minute": round(rate, 2),
                           "description": Phrase(CLIP_WORDS[steadiness],
                                                 mix=describe_mix(classes, shares[members].mean(0))),
                           "examples": [clips[i][0] for i in members[:3]]})
        groups.sort(key=lambda group: -group["share"])
    return {"enough": True, "count": len(clips), "silhouette": round(silhouette, 3), "clusters": groups}
