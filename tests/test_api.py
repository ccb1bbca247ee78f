"""The Python API: `import activekd` entry points, the docs example executed, selection on plain arrays."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import activekd
from activekd.heads import mix_heads
from activekd.select import SelectionInputs, list_strategies

DOCS = Path(__file__).resolve().parents[1] / "docs" / "python.md"


def test_import_activekd_loads_no_torch_and_lists_its_entry_points():
    code = "import sys, activekd; assert 'torch' not in sys.modules; print(sorted(dir(activekd)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    for name in ("ActiveSession", "from_options", "select", "create_student", "create_teacher", "load_predictor", "train_student"):
        assert name in out


@pytest.mark.slow
def test_the_python_docs_run_as_written(tmp_path, cache_dir, capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(), flags=re.S)
    assert len(blocks) == 2
    namespace = {"CACHE": str(cache_dir), "RUN": str(tmp_path / "run")}
    for block in blocks:
        exec(compile(block, str(DOCS), "exec"), namespace)  # noqa: S102 - the documentation is the test
    out = capsys.readouterr().out
    assert re.search(r"20 labels, student accuracy \d+\.\d%", out)
    assert len(namespace["picks"]) == 10 and all(isinstance(p, int) for p in namespace["picks"])


def _tensor_inputs(seed: int, n=300, m=12, c=6, d=8):
    g = torch.Generator().manual_seed(seed)
    t = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    return SelectionInputs(list(range(n)), t(n, c) * 3, t(n, c) * 3, t(n, d), [-(i + 1) for i in range(m)], t(m, c) * 3, t(m, c) * 3,
                           t(m, d), torch.randint(c, (m,), generator=g), alpha=0.3, beta=1.5, pool_teacher=t(n, c))


@pytest.mark.parametrize("strategy", list_strategies())
def test_selection_on_numpy_arrays_equals_the_tensor_api(strategy):
    inputs = _tensor_inputs(3)
    want = activekd.select(strategy, inputs, 15, seed=4)
    probs = mix_heads(inputs.pool_ce, inputs.pool_kd, inputs.alpha, inputs.beta).numpy()
    labeled = mix_heads(inputs.labeled_ce, inputs.labeled_kd, inputs.alpha, inputs.beta).numpy()
    got = activekd.select(strategy, probs=probs, labeled_probs=labeled, features=inputs.pool_features.numpy(),
                          labeled_features=inputs.labeled_features.numpy(), labels=inputs.labeled_labels.numpy(),
                          teacher_logits=inputs.pool_teacher.numpy(), budget=15, seed=4)
    assert got == want


def test_numpy_arrays_inside_selection_inputs_work_too():
    x = _tensor_inputs(5)
    as_numpy = SelectionInputs(x.pool_ids, x.pool_ce.numpy(), x.pool_kd.numpy(), x.pool_features.numpy(), x.labeled_ids,
                               x.labeled_ce.numpy(), x.labeled_kd.numpy(), x.labeled_features.numpy(), x.labeled_labels.numpy(),
                               alpha=x.alpha, beta=x.beta)
    assert activekd.select("pcoreset", as_numpy, 7) == activekd.select("pcoreset", x, 7)


def test_a_strategy_that_reads_features_refuses_arrays_without_them():
    with pytest.raises(activekd.ActiveKDError, match="needs the pool's features"):
        activekd.select("coreset", probs=np.full((20, 3), 1 / 3, dtype=np.float32), budget=2)


def test_devices_may_be_strings():
    from activekd.data import ArraySource
    from activekd.train import ImageBank, TrainBatchSource, TrainConfig, predict

    student = activekd.create_student("small-cnn", 3, pretrained=False)
    bank = ImageBank(ArraySource(np.random.default_rng(0).integers(0, 255, (20, 28, 28), dtype=np.uint8)), "cpu")
    data = TrainBatchSource(torch.arange(6), torch.tensor([0, 1, 2] * 2), torch.arange(6, 20), torch.randn(6, 3), torch.randn(14, 3))
    losses = activekd.train_student(student, bank, data, TrainConfig(repeat=2, batch_labeled=4, batch_unlabeled=4), device="cpu",
                                    generator=torch.Generator().manual_seed(0), progress=False)
    assert len(losses) == 2 * 2 and predict(student, bank, torch.arange(5), device="cpu", progress=False).ce.shape == (5, 3)  # repeat · ⌈6 / 4⌉
