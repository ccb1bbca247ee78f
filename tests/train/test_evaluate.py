import torch

from activekd.train._evaluate import confusion_matrix, per_class_accuracy


def test_confusion_matrix_counts_true_rows_against_predicted_columns():
    scores = torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.0, 0.1, 0.9]])
    labels = torch.tensor([0, 1, 1, 2])
    conf = confusion_matrix(scores, labels)
    assert conf.tolist() == [[1, 0, 0], [1, 1, 0], [0, 0, 1]]
    assert per_class_accuracy(conf) == [1.0, 0.5, 1.0]


def test_per_class_accuracy_of_a_class_without_test_images_is_none():
    conf = torch.tensor([[2, 0], [0, 0]])
    assert per_class_accuracy(conf) == [1.0, None]
