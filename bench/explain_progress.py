"""How honest the "Why?" progress bar is: one face explained twice in a fresh process (cold: Grad-CAM's torch
networks load; then warm), printing each report against the elapsed time, the largest gap between the bar and the
elapsed share of the run, and the share of the run the bar spends at 90% or more.

    python -m bench.explain_progress
"""

from __future__ import annotations

import time

from skimage import data

from inference.explain import Explainer
from inference.labels import DetectionKind
from inference.pipeline import get_pipeline

ASTRONAUT_FACE = (180, 60, 268, 175)


def timed_reports(explainer: Explainer) -> tuple[list[tuple[float, float]], float]:
    """(seconds since the start, progress) of each report of one explanation, and its total seconds."""
    start, seen = time.perf_counter(), []
    explainer.explain(data.astronaut(), ASTRONAUT_FACE, DetectionKind.HUMAN,
                      progress=lambda value: seen.append((time.perf_counter() - start, value)))
    return seen, time.perf_counter() - start


def main() -> None:
    explainer = Explainer.for_pipeline(get_pipeline())
    for run in ("cold", "warm"):
        seen, total = timed_reports(explainer)
        gap = max(abs(value - moment / total) for moment, value in seen)
        ends = [moment for moment, _ in seen[1:]] + [total]  # each value shows until the next report
        high = sum(end - moment for (moment, value), end in zip(seen, ends) if value >= 0.9) / total
        print(f"{run}: {total:.1f} s; reports (s, progress): "
              + ", ".join(f"{moment:.1f} {value:.0%}" for moment, value in seen))
        print(f"  largest gap between the bar and the elapsed share: {gap:.0%}; time at >= 90%: {high:.0%}")


if __name__ == "__main__":
    main()
