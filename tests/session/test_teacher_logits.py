"""The session's teacher logits: per-image table and, for teachers with views, the per-view targets."""

import numpy as np
import torch

from activekd.data import ArraySource, Dataset
from activekd.session._teacher_logits import TeacherLogits
from activekd.train import view_params


class ViewedTeacher:
    """Logits that say (view, position); counts refits and view passes."""

    name, num_classes, num_views = "viewed", 2, 3

    def __init__(self, ds, adaptive):
        self.ds, self.adaptive, self.fits, self.view_calls = ds, adaptive, 0, 0

    def logits(self, ids):
        return torch.stack([torch.full((len(ids),), -1.0), torch.from_numpy(self.ds.index_of(ids)).float()], 1)

    def fit(self, ids, labels):
        self.fits += 1

    def view_params(self, ids):
        return view_params(0, self.ds.index_of(ids), self.num_views)

    def view_logits(self, ids, k):
        self.view_calls += 1
        return torch.stack([torch.full((len(ids),), float(k)), torch.from_numpy(self.ds.index_of(ids)).float()], 1)


def dataset():
    splits = np.array(["pool"] * 6 + ["test"] * 2 + ["holdout"] * 2, dtype=object)
    return Dataset(name="t", class_names=("a", "b"), ids=[f"i{k}" for k in range(10)], labels=np.arange(10) % 2, splits=splits,
                   images=ArraySource(np.zeros((10, 4, 4), np.uint8)))


def test_views_cover_pool_and_labeled_rows_and_follow_refits():
    ds = dataset()
    teacher = ViewedTeacher(ds, adaptive=True)
    tl = TeacherLogits("viewed", lambda: teacher, ds)
    labeled = [("i1", 1), ("i8", 0)]  # a labeled image outside the pool still gets its views
    v = tl.views(labeled)
    rows = [0, 1, 2, 3, 4, 5, 8]
    assert v.logits.shape == (10, 3, 2) and v.theta.shape == (10, 3, 2, 3)
    torch.testing.assert_close(v.logits[rows, :, 0], torch.arange(3.0).expand(len(rows), 3))
    torch.testing.assert_close(v.logits[rows, :, 1], torch.tensor(rows).float()[:, None].expand(len(rows), 3))
    torch.testing.assert_close(v.theta[rows], view_params(0, rows, 3))
    assert (v.logits[[6, 7, 9]] == 0).all()
    assert tl.views(labeled) is v and teacher.fits == 1 and teacher.view_calls == 3  # cached
    tl.views(labeled + [("i2", 0)])
    assert teacher.fits == 2 and teacher.view_calls == 6  # refitted, asked again


def test_a_teacher_without_views_gives_none():
    ds = dataset()
    teacher = ViewedTeacher(ds, adaptive=False)
    teacher.num_views = 0
    assert TeacherLogits("viewed", lambda: teacher, ds).views([("i1", 1)]) is None
