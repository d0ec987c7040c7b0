"""Insights on synthetic histories with known structure, and the page time of a subject with 10,000 analyses.

    python -m bench.insights [--trials 200] [--analyses 10000]

Prints: the adjusted Rand index of the recovered moods against three planted ones; the power of
the change check for planted shifts of the `sad` share (60 appearances, change at the middle) and
its false-alarm rate on histories with no change; the false-alarm rate of the time-of-day check;
and the time of the subject's dashboard page (and of its JSON API) with 10,000 analyses, cold
(first view after a new analysis) and warm (cached); one appearance an hour, ending now.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
from sklearn.metrics import adjusted_rand_score

from bench.fixtures import add_history, login, make_app, make_subject, make_user
from insights.changes import change_point
from insights.patterns import cluster, time_effects
from bench.synthetic import clustered, shifted
from models import SubjectKind, utcnow


def recovery(trials: int) -> None:
    scores = []
    for seed in range(trials):
        history, truth = clustered(np.random.default_rng(seed), 150)
        scores.append(adjusted_rand_score(truth, cluster(history.vectors, seed)[0]))
    print(f"planted moods (3 moods, 150 appearances, {trials} histories): adjusted Rand index "
          f"mean {np.mean(scores):.3f}, worst {np.min(scores):.3f}")


def detection_rates(trials: int) -> None:
    rng = np.random.default_rng(1)
    for shift in (0.0, 0.1, 0.2, 0.3):
        found = np.mean([change_point(shifted(rng, 60, shift), seed=i)["detected"] for i in range(trials)])
        label = "false-alarm rate (no change)" if shift == 0 else f"power, sad share +{shift:.1f}"
        print(f"change check, 60 appearances, {trials} histories: {label}: {found:.3f}")
    alarms = np.mean([bool(time_effects(shifted(rng, 120, 0.0))) for _ in range(trials)])
    print(f"time-of-day / weekday check, 120 appearances with no effect: false-alarm rate {alarms:.3f}")


def page_time(count: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        app = make_app(Path(folder))
        user_id = make_user(app, "owner")
        subject_id = make_subject(app, user_id, "Rex", SubjectKind.DOG)
        hourly = timedelta(hours=1)  # a long, realistic history: one appearance an hour, ending now
        add_history(app, user_id, subject_id, shifted(np.random.default_rng(2), count, 0.2).vectors,
                    start=utcnow() - hourly * count, spacing=hourly)
        client = app.test_client()
        login(client, "owner")
        for url in (f"/dashboard?subject={subject_id}", f"/api/v1/subjects/{subject_id}/insights"):
            timings = []
            for _ in range(3):
                began = time.perf_counter()
                assert client.get(url).status_code == 200
                timings.append((time.perf_counter() - began) * 1000)
            print(f"{url} with {count} analyses: cold {timings[0]:.0f} ms, warm {np.median(timings[1:]):.0f} ms")
            add_history(app, user_id, subject_id, shifted(np.random.default_rng(3), 1, 0.0).vectors)  # a new one


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--analyses", type=int, default=10_000)
    args = parser.parse_args()
    recovery(min(args.trials, 50))
    detection_rates(args.trials)
    page_time(args.analyses)


if __name__ == "__main__":
    main()
