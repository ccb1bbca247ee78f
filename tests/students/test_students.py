"""Template tests over every registered student, plus the factory's errors and checkpoint I/O."""

import os
import warnings

import pytest
import torch

from activekd.errors import StudentError
from activekd.registry import UnknownNameError
from activekd.students import PretrainedWeightsWarning, create_student, list_students
from activekd.students.io import load_student, student_metadata

NAMES = list_students()


@pytest.mark.parametrize("name", NAMES)
def test_every_student_forward_backward(name, spec_of):
    torch.manual_seed(0)
    s = create_student(spec_of(name), 7, pretrained=False, input_size=32 if name != "small-cnn" else None)
    x = torch.randint(0, 256, (3, 1, 28, 28), dtype=torch.uint8)  # grayscale input even for RGB students
    ce, kd, h = s(x)
    assert ce.shape == kd.shape == (3, 7)
    assert h.shape == (3, s.feature_dim)
    (ce.sum() + kd.sum()).backward()
    assert s.ce_head.weight.grad is not None and s.kd_head.weight.grad is not None
    rgb = torch.randint(0, 256, (2, 3, 40, 40), dtype=torch.uint8)
    assert s(rgb)[0].shape == (2, 7)  # any size, any channel count


def test_heads_are_separate():
    s = create_student("small-cnn", 3, pretrained=False)
    assert s.ce_head is not s.kd_head
    assert not torch.equal(s.ce_head.weight, s.kd_head.weight)


def test_unknown_student_lists_valid_names():
    with pytest.raises(UnknownNameError, match="valid: .*resnet18.*small-cnn"):
        create_student("resnet999", 10)


def test_unknown_timm_model():
    with pytest.raises(ValueError, match="unknown timm model"):
        create_student("timm:not_a_model_xyz", 10, pretrained=False)


def test_pretrained_offline_falls_back_with_warning(monkeypatch):
    import torchvision

    def boom(*a, **k):
        if k.get("weights") is not None:
            raise RuntimeError("no network")
        return real(*a, **k)

    real = torchvision.models.resnet18
    monkeypatch.setattr(torchvision.models, "resnet18", boom)
    with pytest.warns(UserWarning, match="random initialisation"):
        s = create_student("resnet18", 4, pretrained=True, input_size=32)
    assert s.eval()(torch.zeros(1, 3, 32, 32, dtype=torch.uint8))[0].shape == (1, 4)


def _offline_torchvision(monkeypatch, name="resnet18"):
    """torchvision's ``name`` with its weights unreachable; returns the list of models built."""
    import torchvision

    real, built = getattr(torchvision.models, name), []

    def offline(*a, **k):
        if k.get("weights") is not None:
            raise RuntimeError("<urlopen error [Errno -3] Temporary failure\n in name resolution>")
        built.append(real(*a, **k))
        return built[-1]

    monkeypatch.setattr(torchvision.models, name, offline)
    return built


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2"])
def test_required_pretrained_weights_that_cannot_load_are_one_line_and_build_nothing(monkeypatch, name):
    import torch.hub

    built = _offline_torchvision(monkeypatch, name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning on the way to the error
        with pytest.raises(StudentError) as err:
            create_student(name, 4, pretrained=True, require_pretrained=True, input_size=32)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"cannot load the pretrained weights of student {name} (RuntimeError: ")
    assert os.path.join(torch.hub.get_dir(), "checkpoints") in msg and ".pth (https://download.pytorch.org/models/" in msg
    assert "--no-student-pretrained" in msg
    assert built == []  # no random student was built
    assert create_student(name, 4, pretrained=False, require_pretrained=True, input_size=32).num_classes == 4  # nothing to load
    assert len(built) == 1


def test_required_pretrained_for_a_student_without_weights_to_load():
    assert create_student("small-cnn", 3, pretrained=True, require_pretrained=True).num_classes == 3
    with pytest.raises(StudentError, match=r"student openclip:ViT-S-32-alt .*openclip:ViT-S-32-alt:TAG_OR_PATH"):
        create_student("openclip:ViT-S-32-alt", 3, pretrained=True, require_pretrained=True)
    with pytest.warns(PretrainedWeightsWarning, match="RANDOMLY INITIALISED"):  # not required: a warning, as before
        create_student("openclip:ViT-S-32-alt", 3, pretrained=True, input_size=32)


def test_student_config_require_pretrained_is_an_option_the_presets_set():
    from activekd.config import RunConfig, StudentConfig, from_options
    from activekd.errors import ConfigError
    from activekd.presets import preset_values

    assert StudentConfig().require_pretrained is False
    assert from_options(student_require_pretrained=True).student.require_pretrained is True
    assert all(preset_values(p)["student_require_pretrained"] is True for p in ("pcoreset-paper", "dho-paper"))
    with pytest.raises(ConfigError, match="require_pretrained must be true or false"):
        StudentConfig(require_pretrained="yes")
    # a policy, not part of what a run computes: a run saved without it resumes under a preset that sets it
    assert RunConfig().identity() == from_options(student_require_pretrained=True).identity()


def test_checkpoint_round_trip(tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(0)
    s = create_student("small-cnn", 3, pretrained=False).eval()
    path = tmp_path / "s.safetensors"
    save_file({k: v.contiguous() for k, v in s.state_dict().items()}, str(path),
              metadata=student_metadata("small-cnn", ["a", "b", "c"], 0.25, 2.0, 28, "picks (40 labels)"))
    t, info = load_student(path)
    x = torch.randint(0, 256, (2, 1, 28, 28), dtype=torch.uint8)
    assert torch.allclose(s(x)[0], t(x)[0])
    assert info == {"student": "small-cnn", "class_names": ["a", "b", "c"], "alpha": 0.25, "beta": 2.0, "mix_source": "picks (40 labels)"}


def test_a_timm_model_with_a_conv_head_pools_wider_than_num_features():
    """MobileNetV3's conv head widens the pooled features (288 -> 1024): the heads must take the real width."""
    import torch

    student = create_student("timm:mobilenetv3_small_050", 3, pretrained=False, input_size=32)
    ce, kd, h = student.eval()(torch.zeros(2, 3, 32, 32, dtype=torch.uint8))
    assert ce.shape == kd.shape == (2, 3) and h.shape == (2, student.feature_dim) and student.feature_dim == 1024


def test_student_config_tune_is_an_option_and_is_checked():
    from activekd.config import StudentConfig, from_options
    from activekd.errors import ConfigError

    assert StudentConfig().tune == "full"
    assert from_options(student="openclip:RN50", student_tune="linear").student.tune == "linear"
    with pytest.raises(ConfigError, match="unknown student tune 'probe'; valid: full, linear"):
        StudentConfig(tune="probe")
