"""What each teacher kind declares at registration (``TeacherInfo``: whether it takes a few-shot head), and that
``create_teacher`` and the session's start checks both read it."""

from __future__ import annotations

import pytest

from activekd.errors import TeacherError
from activekd.registry import Registry
from activekd.teachers import (
    TeacherConfig,
    TeacherContext,
    TeacherInfo,
    check_few_shot,
    create_teacher,
    list_teachers,
    register_teacher,
    teacher_info,
)


@pytest.fixture
def fresh_registry(monkeypatch):
    """An empty teacher registry for the test (the real one is left as it was)."""
    from activekd.teachers import _base

    monkeypatch.setattr(_base, "TEACHERS", Registry("teacher"))


@pytest.mark.parametrize("kind", list_teachers())
def test_every_teacher_kind_has_its_registration(kind):
    info = teacher_info(kind)
    assert isinstance(info, TeacherInfo) and info.kind == kind and callable(info.factory)
    assert teacher_info(f"{kind}:some-arg") == info


def test_only_the_vision_language_kinds_take_a_few_shot_head():
    assert {k for k in list_teachers() if teacher_info(k).few_shot} == {"openclip", "hf"}


@pytest.mark.parametrize("spec", ["standin", "file:teacher.npz"])
def test_few_shot_on_a_fixed_teacher_is_refused(spec):
    check_few_shot(TeacherConfig(spec=spec))  # no few-shot head: fine
    with pytest.raises(TeacherError, match=f"--few-shot clap needs a vision-language teacher .*'{spec}' gives fixed logits"):
        check_few_shot(TeacherConfig(spec=spec, few_shot="clap"))


@pytest.mark.parametrize("spec", ["openclip:ViT-B-32", "hf:some/model"])
def test_few_shot_on_a_vision_language_teacher_passes(spec):
    check_few_shot(TeacherConfig(spec=spec, few_shot="clap"))


def test_create_teacher_refuses_few_shot_before_building(fresh_registry, tmp_path):
    built = []
    factory = register_teacher("fixed")(lambda arg, config, ctx: built.append(arg))
    assert teacher_info("fixed") == TeacherInfo("fixed", factory, few_shot=False)
    ctx = TeacherContext(dataset=None, cache_dir=tmp_path, device="cpu")
    with pytest.raises(TeacherError, match="needs a vision-language teacher"):
        create_teacher(TeacherConfig(spec="fixed:x", few_shot="clap"), ctx)
    assert built == []


def test_a_new_kind_declares_a_few_shot_head(fresh_registry, tmp_path):
    class Adaptive:
        name, num_classes, adaptive = "adaptive", 2, True

    register_teacher("adaptive", few_shot=True)(lambda arg, config, ctx: Adaptive())
    ctx = TeacherContext(dataset=None, cache_dir=tmp_path, device="cpu")
    assert isinstance(create_teacher(TeacherConfig(spec="adaptive", few_shot="clap"), ctx), Adaptive)


def test_the_session_start_check_reads_the_same_declaration(fresh_registry, tmp_path):
    from activekd.config import RunConfig
    from activekd.session._checks import check_config

    register_teacher("mine")(lambda arg, config, ctx: None)
    register_teacher("standin", few_shot=True)(lambda arg, config, ctx: None)  # no list of fixed kinds anywhere else
    with pytest.raises(TeacherError, match="needs a vision-language teacher"):
        check_config(RunConfig(teacher=TeacherConfig(spec="mine", few_shot="clap"), cache_dir=str(tmp_path)))
    check_config(RunConfig(teacher=TeacherConfig(spec="standin", few_shot="clap"), cache_dir=str(tmp_path)))
