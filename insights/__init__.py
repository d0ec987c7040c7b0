"""Insights into a subject's emotion history: profile, patterns and changes (numpy, scipy, scikit-learn; no Flask).

Each function takes a `History` (the subject's emotion-probability vectors, oldest first, with their
times) and returns plain dicts ready for a page or the JSON API. Each one says when there is too
little data rather than invent a pattern: see the MIN_* thresholds.
"""
