"""Stopping advice on a real run: "continue" while the curve climbs, "stop" once it has flattened.

Fashion-MNIST trousers against bags (real images, written as an image folder): from one label per class a small CNN
reaches about 70%, and from a few dozen about 98%, so the learning curve of plain labeling rises over the first
rounds and then lies flat. Rounds of 50 labels make the advice's three-round window span 100 labels, over which the
stopping threshold (1 point per 100 labels) is a 1-point gain. The advice lets no change inside the test set's 95%
interval decide, so a "stop" needs a test set that would see a 1-point gain: all 2,000 test images of the two classes
(±0.6 points at 98%; on 400, ±1.4 points, the flat curve would be "undecided").
"""

import json

import numpy as np
import pytest
from PIL import Image

from activekd.cli import main
from activekd.report import stopping_advice

pytestmark = pytest.mark.slow

CLASSES = {"trouser": 1, "bag": 8}


@pytest.fixture(scope="module")
def two_classes(fmnist, tmp_path_factory):
    root = tmp_path_factory.mktemp("trouser-bag")
    rng = np.random.default_rng(0)
    for split, n in (("train", 300), ("test", 1000)):
        members = fmnist.split_indices("pool" if split == "train" else "test")
        for name, label in CLASSES.items():
            (root / split / name).mkdir(parents=True)
            pick = rng.choice(members[fmnist.labels[members] == label], size=n, replace=False)
            for i in pick.tolist():
                Image.fromarray(fmnist.images.array[i, 0]).save(root / split / name / f"{fmnist.ids[i]}.png")
    return root


def _advice(out, capsys) -> str:
    capsys.readouterr()
    assert main(["status", str(out)]) == 0
    return next(line for line in capsys.readouterr().out.splitlines() if "advice: " in line)


def test_advice_continues_while_the_curve_climbs_and_stops_once_it_is_flat(two_classes, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--dataset", f"imagefolder:{two_classes}", "--image-size", "28", "--kd", "none", "--strategy", "random",
            "--shots", "1", "--budget", "50", "--repeat", "40", "--device", "cpu", "--no-progress", "--cache-dir", str(tmp_path / "c")]
    assert main(["run", "--out", str(out), "--rounds", "2", *args]) == 0
    early = _advice(out, capsys)
    assert "continue" in early and "accuracy still gains" in early, early
    assert main(["resume", str(out), "--rounds", "7"]) == 0
    late = _advice(out, capsys)
    rounds = json.loads((out / "results.json").read_text())["rounds"]
    accs = [r["student_acc"] for r in rounds]
    assert "stop" in late and "below 1 point per 100 labels" in late and "on 2000 test images" in late, (late, accs)
    assert accs[-1] > accs[0]  # the curve rose before it flattened
    assert stopping_advice(rounds[:3])["decision"] == "continue" and stopping_advice(rounds)["decision"] == "stop"
