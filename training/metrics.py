"""Classification metrics computed with numpy only (accuracy, macro-F1, per class, confusion, a paired bootstrap
interval of a change; AUROC with scikit-learn, where it is installed): the training scripts run them on a GPU machine
that has only numpy and torch."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

BOOTSTRAP_ROUNDS = 1000


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts[true, predicted]."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def per_class_scores(matrix: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall, F1 and support per class from a confusion matrix."""
    true_positive = np.diag(matrix).astype(float)
    predicted = matrix.sum(0).astype(float)
    support = matrix.sum(1).astype(float)
    precision = np.divide(true_positive, predicted, out=np.zeros_like(true_positive), where=predicted > 0)
    recall = np.divide(true_positive, support, out=np.zeros_like(true_positive), where=support > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros_like(denominator), where=denominator > 0)
    return {"precision": precision, "recall": recall, "f1": f1, "support": support}


def summary(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """Accuracy and macro-F1 of the arg-max predictions."""
    predictions = probabilities.argmax(1)
    return {
        "accuracy": float((predictions == labels).mean()),
        "macro_f1": macro_f1(labels, predictions, probabilities.shape[1]),
    }


def macro_f1(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> float:
    """The mean F1 over all classes of arg-max predictions."""
    return float(per_class_scores(confusion_matrix(labels, predictions, num_classes))["f1"].mean())


def present_macro_f1(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> float:
    """The mean F1 over the classes that have examples among `labels` (a dev set without a "fear" photo is not
    scored 0 on fear): the face dev sets' figure (bench.faces, bench.faces_paired, training.face_colour)."""
    f1 = per_class_scores(confusion_matrix(labels, predictions, num_classes))["f1"]
    return float(f1[np.unique(labels)].mean())


def bootstrap_interval(labels: np.ndarray, before: np.ndarray, after: np.ndarray,
                       score: Callable[[np.ndarray, np.ndarray], float], seed: int = 0) -> tuple[float, float]:
    """95% interval of the change of score(labels, predictions) from `before` to `after` predictions of the same
    items, the items resampled with replacement."""
    rng = np.random.default_rng(seed)
    changes = []
    for _ in range(BOOTSTRAP_ROUNDS):
        sample = rng.integers(0, len(labels), len(labels))
        changes.append(score(labels[sample], after[sample]) - score(labels[sample], before[sample]))
    low, high = np.percentile(changes, [2.5, 97.5])
    return float(low), float(high)


def auroc_one_vs_rest(labels: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Area under the ROC curve of each class against the rest (scikit-learn's; NaN for a class with no example or
    nothing else). Imported here: the rest of this module runs where only numpy and torch are (a GPU machine)."""
    from sklearn.metrics import roc_auc_score

    return np.asarray([roc_auc_score(labels == label, probabilities[:, label])
                       if 0 < (labels == label).sum() < len(labels) else float("nan")
                       for label in range(probabilities.shape[1])])
