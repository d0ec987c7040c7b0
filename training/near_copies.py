"""Near-copies in a training set, one way for every source (dogs, cats, ExpW faces): photos linked by whatever says
they are copies (close difference hashes, one source name, similar features) form one group, named by its first
member; a group whose labels disagree is dropped, one photo of any other group is kept."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

CONFLICTS = "label conflicts (photos)"
REPEATS = "near-duplicates"


def linked_groups(count: int, firsts: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """The group of each of `count` items, named by its smallest index: items firsts[i] and seconds[i] are linked, and
    linked items (through any chain of links) are one group."""
    links = coo_matrix((np.ones(len(firsts)), (firsts, seconds)), shape=(count, count))
    components = connected_components(links, directed=False)[1]
    return np.unique(components, return_index=True)[1][components]


def one_per_group(names: Sequence, labels: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, Counter]:
    """Indices kept, in order (the smallest name of each group with a single label), and the count of what was removed
    (CONFLICTS: photos of groups whose labels disagree; REPEATS: the other members of the groups kept)."""
    removed: Counter = Counter()
    kept = []
    for group in np.unique(groups):
        members = np.flatnonzero(groups == group)
        if len(np.unique(labels[members])) > 1:
            removed[CONFLICTS] += len(members)
            continue
        kept.append(min(members, key=lambda index: names[index]))
        removed[REPEATS] += len(members) - 1
    return np.array(sorted(kept), dtype=int), removed
