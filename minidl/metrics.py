"""Measuring a classifier: predictions, accuracy and the confusion matrix."""
from __future__ import annotations

import numpy as np

from minidl.tensor import Tensor, no_grad


def predict(model, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """The argmax class of model(x) for every row of x: (N, features) -> (N,), without a graph."""
    out = []
    with no_grad():
        for start in range(0, len(x), batch_size):
            out.append(model(Tensor(x[start:start + batch_size])).data.argmax(axis=1))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.intp)


def accuracy(model, x: np.ndarray, y: np.ndarray, batch_size: int = 1000) -> float:
    """The fraction of rows whose predicted class equals the label."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"accuracy: labels of shape {y.shape}; pass one label per row, shape "
                         f"({len(x)},) (e.g. y.reshape(-1))")
    if len(x) != len(y):
        raise ValueError(f"accuracy: {len(x)} inputs but {len(y)} labels")
    return float((predict(model, x, batch_size) == y).mean())


def confusion_matrix(pred: np.ndarray, y: np.ndarray, num_classes: int) -> np.ndarray:
    """counts[i, j] = how many examples of true class i were predicted as j.

    Both arrays hold integer classes in [0, num_classes), with the same shape."""
    pred, y = np.asarray(pred), np.asarray(y)
    if pred.shape != y.shape:
        raise ValueError(f"confusion_matrix: predictions {pred.shape} and labels {y.shape} differ")
    for what, a in (("predictions", pred), ("labels", y)):
        if a.dtype.kind not in "iu":
            raise ValueError(f"confusion_matrix: {what} must be integers in [0, {num_classes}), "
                             f"got dtype {a.dtype}")
        bad = a[(a < 0) | (a >= num_classes)]
        if bad.size:
            raise ValueError(f"confusion_matrix: {what} must be integers in [0, {num_classes}), "
                             f"got {bad[0]} ({bad.size} out of range)")
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (y, pred), 1)
    return counts
