"""The ONNX predictor runs where torch cannot be imported."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from PIL import Image

SCRIPT = textwrap.dedent('''
    import json, sys
    import numpy as np

    class NoTorch:
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ImportError("torch is blocked in this test")

    sys.meta_path.insert(0, NoTorch())
    import activekd
    from activekd.export import predict_images

    model, folder = sys.argv[1], sys.argv[2]
    pred = activekd.load_predictor(model)
    probs = pred.predict([np.zeros((28, 28), np.uint8), np.full((3, 40, 30), 200, np.uint8)])
    rep = predict_images(model, [folder], out=None, top_k=2, batch_size=4, progress=False)
    print(json.dumps({"shape": list(probs.shape), "names": pred.class_names, "n": len(rep.predictions),
                      "bad": rep.unreadable, "torch": sorted(m for m in sys.modules if m.split(".")[0] == "torch")}))
''')


def test_onnx_predictor_imports_no_torch(runs, tmp_path, spec):
    from activekd.export import export_student

    model = export_student(runs["small-cnn"], "onnx", tmp_path / "m.onnx")
    (tmp_path / "img").mkdir()
    Image.new("L", (28, 28), 90).save(tmp_path / "img" / "a.png")
    (tmp_path / "img" / "b.jpg").write_bytes(b"garbage")
    res = subprocess.run([sys.executable, "-c", SCRIPT, str(model), str(tmp_path / "img")],
                         capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out == {"shape": [2, 10], "names": list(spec.classes), "n": 1, "bad": [str(tmp_path / "img" / "b.jpg")], "torch": []}
