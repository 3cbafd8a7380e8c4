"""Accuracy, predictions and the confusion matrix; the MNIST benchmark learns."""
import numpy as np
import pytest

from minidl.metrics import accuracy, confusion_matrix, predict
from minidl.nn import Linear


def identity_classifier():
    layer = Linear(3, 3)
    layer.W.data[...] = np.eye(3)
    return layer


def test_predict_is_the_argmax_and_records_no_graph():
    x = np.array([[0.1, 0.9, 0.0], [2.0, 0.0, 1.0]], dtype=np.float32)
    assert predict(identity_classifier(), x, batch_size=1).tolist() == [1, 0]


def test_accuracy_counts_matches_and_checks_lengths():
    x = np.eye(3, dtype=np.float32)
    assert accuracy(identity_classifier(), x, np.array([0, 1, 1])) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="3 inputs but 2 labels"):
        accuracy(identity_classifier(), x, np.array([0, 1]))


def test_confusion_matrix_rows_are_true_classes():
    counts = confusion_matrix(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]), 3)
    assert counts.tolist() == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]
    assert counts.sum() == 4


def test_mnist_benchmark_learns_in_one_epoch(capsys):
    from minidl.bench import mnist
    assert mnist.main(["--epochs", "1"]) == 0
    out = capsys.readouterr().out
    final = float(out.split("final test accuracy ")[1].split()[0])
    assert final > 0.8


def test_accuracy_rejects_labels_that_are_not_one_label_per_row():
    x = np.eye(3, dtype=np.float32)
    with pytest.raises(ValueError, match="accuracy: labels of shape \\(3, 1\\).*\\(3,\\)"):
        accuracy(identity_classifier(), x, np.array([[0], [1], [2]]))


@pytest.mark.parametrize("pred, y, words", [
    (np.array([0, 1]), np.array([0, -1]), "labels must be integers in \\[0, 3\\), got -1"),
    (np.array([0, 3]), np.array([0, 1]), "predictions must be integers in \\[0, 3\\), got 3"),
    (np.array([0.0, 1.0]), np.array([0, 1]), "predictions must be integers.*float64"),
])
def test_confusion_matrix_rejects_labels_out_of_range(pred, y, words):
    with pytest.raises(ValueError, match="confusion_matrix: " + words):
        confusion_matrix(pred, y, 3)
