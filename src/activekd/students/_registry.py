"""``create_student(name, num_classes)``: the registry and factory of dual-head students.

Names: ``small-cnn`` (28×28 inputs), ``resnet18``, ``mobilenet_v2`` (torchvision; ImageNet weights
when they can be had, else random init with a warning), ``timm:NAME`` (any timm model), and the image
towers of vision-language models, ``openclip:ARCH[:PRETRAINED]`` and ``hf:MODEL_ID_OR_DIR`` (``_vlm``).

A factory that falls back to random weights says so with a :class:`PretrainedWeightsWarning`;
``create_student(..., require_pretrained=True)`` (the papers' presets) makes that fallback a one-line error.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from typing import Callable, Iterator

from torch import nn

from activekd.errors import StudentError
from activekd.registry import Registry, parse_spec

from ._dual_head import DualHeadStudent, check_tune

log = logging.getLogger(__name__)

StudentFactory = Callable[..., DualHeadStudent]
STUDENTS: Registry[StudentFactory] = Registry("student")
register_student = STUDENTS.register


def create_student(name: str, num_classes: int, *, pretrained: bool = True, input_size: int | None = None,
                   tune: str = "full", require_pretrained: bool = False) -> DualHeadStudent:
    """Build a fresh dual-head student.

    Args:
        name: a registered name, ``timm:MODEL``, ``openclip:ARCH[:PRETRAINED]`` or ``hf:MODEL_ID_OR_DIR``.
        num_classes: ``C``.
        pretrained: load pretrained weights when available (torchvision / timm fall back to random init
            with a :class:`PretrainedWeightsWarning`; a VLM image tower whose named weights cannot be had is an error).
        input_size: override the backbone's input side.
        tune: ``full`` (train everything) or ``linear`` (linear probe: backbone frozen, only the heads train).
        require_pretrained: with ``pretrained``, a fallback to random weights is a :class:`StudentError` instead, one
            line naming the model and where a local copy of its weights goes (``small-cnn`` has none to load).
    """
    if num_classes < 2:
        raise StudentError(f"num_classes must be >= 2, got {num_classes}")
    check_tune(tune)  # before building what may be a large model
    kind, arg = parse_spec(name)
    if kind == "timm" and not arg:
        raise StudentError("timm students need a model name: timm:NAME (e.g. timm:resnet18)")
    factory = STUDENTS.get(kind)
    with _fallback_refused(pretrained and require_pretrained):
        student = factory(arg, num_classes, pretrained=pretrained, input_size=input_size)
    return student.set_tune(tune)


def list_students() -> list[str]:
    return STUDENTS.names()


class PretrainedWeightsWarning(UserWarning):
    """A student starts from random weights because its pretrained ones could not be loaded.

    ``student``: the model; ``reason``: why, in one line; ``hint``: how to give a local copy of the weights.
    """

    def __init__(self, student: str, reason: str, hint: str) -> None:
        super().__init__(f"could not load pretrained weights for {student} ({reason}); using random initialisation")
        self.student, self.reason, self.hint = student, reason, hint


def _fallback_warning(name: str, err: Exception | str, hint: str) -> None:
    """Warn (and log) that ``name`` falls back to random weights; an error under :func:`_fallback_refused`."""
    reason = err if isinstance(err, str) else f"{type(err).__name__}: {' '.join(str(err).split())[:200]}"
    w = PretrainedWeightsWarning(name, reason, hint)
    warnings.warn(w, stacklevel=3)
    log.warning(str(w))


@contextlib.contextmanager
def _fallback_refused(refuse: bool) -> Iterator[None]:
    """With ``refuse``, a :class:`PretrainedWeightsWarning` inside is a one-line :class:`StudentError`, raised before
    any random weights are built."""
    if not refuse:
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("error", PretrainedWeightsWarning)
        try:
            yield
        except PretrainedWeightsWarning as w:
            raise StudentError(f"cannot load the pretrained weights of student {w.student} ({w.reason}); {w.hint}, "
                               f"or pass --no-student-pretrained to start from random weights") from None


def _torchvision_hint(name: str) -> str:
    """Where torchvision looks for ``name``'s default weights before downloading them."""
    import torch
    import torchvision

    try:
        url = torchvision.models.get_model_weights(name).DEFAULT.url
    except (AttributeError, KeyError, ValueError):
        url = None
    file = f"{url.rsplit('/', 1)[-1]} ({url})" if url else f"the weights file of {name}"
    return f"to use a local copy, put {file} in {os.path.join(torch.hub.get_dir(), 'checkpoints')} (TORCH_HOME moves it)"


class SmallCNN(nn.Module):
    """A LeNet-style CNN for small images (28-32 px): two conv blocks, then a dense layer.

    Flattening before a dense layer (rather than global pooling) makes it learn quickly from few
    steps, which the short per-round schedules of active learning need. Features: ``[B, 128]``.
    """

    def __init__(self, in_chans: int = 1, width: int = 32, input_size: int = 28, feature_dim: int = 128) -> None:
        super().__init__()

        def block(i: int, o: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True), nn.MaxPool2d(2))

        side = input_size // 4
        self.features = nn.Sequential(
            block(in_chans, width), block(width, 2 * width), nn.Flatten(),
            nn.Linear(2 * width * side * side, feature_dim, bias=False), nn.BatchNorm1d(feature_dim), nn.ReLU(inplace=True),
        )
        self.out_dim = feature_dim

    def forward(self, x):
        return self.features(x)


@register_student("small-cnn")
def _small_cnn(arg, num_classes: int, *, pretrained: bool, input_size: int | None) -> DualHeadStudent:
    size = input_size or 28
    net = SmallCNN(in_chans=1, input_size=size)
    return DualHeadStudent(net, net.out_dim, num_classes, input_size=size, in_chans=1, mean=(0.286,), std=(0.353,))


def _torchvision(name: str, pretrained: bool) -> nn.Module:
    import torchvision

    builder = getattr(torchvision.models, name)
    if pretrained:
        try:
            return builder(weights="DEFAULT")
        except Exception as e:  # offline or no weights for this version
            _fallback_warning(name, e, _torchvision_hint(name))
    return builder(weights=None)


@register_student("resnet18")
def _resnet18(arg, num_classes: int, *, pretrained: bool, input_size: int | None) -> DualHeadStudent:
    net = _torchvision("resnet18", pretrained)
    dim = net.fc.in_features
    net.fc = nn.Identity()
    return DualHeadStudent(net, dim, num_classes, input_size=input_size or 224)


@register_student("mobilenet_v2")
def _mobilenet_v2(arg, num_classes: int, *, pretrained: bool, input_size: int | None) -> DualHeadStudent:
    net = _torchvision("mobilenet_v2", pretrained)
    dim = net.classifier[-1].in_features
    net.classifier = nn.Identity()
    return DualHeadStudent(net, dim, num_classes, input_size=input_size or 224)


@register_student("timm")
def _timm(arg, num_classes: int, *, pretrained: bool, input_size: int | None) -> DualHeadStudent:
    try:
        import timm
    except ImportError:
        raise ImportError("timm students need timm: pip install 'activekd[timm]'") from None
    if arg not in timm.list_models():
        known = timm.list_models(f"*{arg}*")[:10]
        raise StudentError(f"unknown timm model {arg!r}" + (f"; close names: {', '.join(known)}" if known else ""))
    net = None
    if pretrained:
        try:
            net = timm.create_model(arg, pretrained=True, num_classes=0)
        except Exception as e:
            _fallback_warning(f"timm:{arg}", e, "to use a local copy, fill timm's download caches (HF_HOME for the Hugging "
                              "Face hub, TORCH_HOME for URLs) on a connected machine and copy them here")
    if net is None:
        net = timm.create_model(arg, pretrained=False, num_classes=0)
    cfg = net.pretrained_cfg or {}
    size = input_size or int(cfg.get("input_size", (3, 224, 224))[-1])
    in_chans = int(cfg.get("input_size", (3,))[0]) if cfg.get("input_size") else 3
    mean = tuple(cfg.get("mean", (0.485, 0.456, 0.406)))[:in_chans]
    std = tuple(cfg.get("std", (0.229, 0.224, 0.225)))[:in_chans]
    width = getattr(net, "head_hidden_size", None) or net.num_features  # conv-head models (MobileNetV3) pool wider than num_features
    return DualHeadStudent(net, width, num_classes, input_size=size, in_chans=in_chans, mean=mean, std=std)
