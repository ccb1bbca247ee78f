"""The predictor squares images to the side the run stored them at, as evaluation saw them."""

import json

import numpy as np

from activekd.export._meta import ExportMetadata
from activekd.export._predict import Predictor
from activekd.export._source import stored_image_size


def meta(**kw):
    return ExportMetadata(student="small-cnn", class_names=("a", "b"), alpha=0.5, beta=1.0, input_size=224, **kw)


def test_the_host_square_is_the_runs_stored_side(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps({"dataset": {"image_size": [256, 256]}}))
    assert stored_image_size(tmp_path) == 256
    m = meta(image_size=256)
    assert ExportMetadata.from_strings(m.to_strings(), "x").image_size == 256
    image = np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    assert Predictor(backend=None, metadata=m).prepare(image).shape == (3, 256, 256)


def test_older_runs_square_to_the_input_size(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps({"dataset": {"name": "x"}}))
    assert stored_image_size(tmp_path) is None
    assert meta().host_size == 224
    strings = meta().to_strings()
    del strings["image_size"]
    assert ExportMetadata.from_strings(strings, "x").host_size == 224
