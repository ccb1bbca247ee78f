"""Prompt templates and class-name renames."""

from __future__ import annotations

import json

import pytest

from activekd.teachers import IMAGENET_TEMPLATES, load_class_renames, resolve_templates
from activekd.teachers._templates import IMAGENET_TEMPLATES_SELECT, prompts


def test_imagenet_templates_are_clips_80():
    assert len(IMAGENET_TEMPLATES) == len(set(IMAGENET_TEMPLATES)) == 80
    assert set(IMAGENET_TEMPLATES_SELECT) <= set(IMAGENET_TEMPLATES)
    open_clip = pytest.importorskip("open_clip")
    assert list(IMAGENET_TEMPLATES) == [t("{}") for t in open_clip.OPENAI_IMAGENET_TEMPLATES]


def test_resolution(make_dataset, tmp_path):
    ds = make_dataset()
    assert resolve_templates(None, ds) == ds.templates
    assert resolve_templates(None, make_dataset(templates=())) == ("a photo of a {}.",)
    assert resolve_templates("imagenet", ds) == IMAGENET_TEMPLATES
    assert resolve_templates("coop:eurosat", ds) == ("a centered satellite photo of {}.",)
    assert resolve_templates("coop:DescribableTextures", ds) == ("{} texture.",)
    f = tmp_path / "t.txt"
    f.write_text("# comment\n a sketch of a {}. \n\nart of the {}.\n")
    assert resolve_templates(str(f), ds) == ("a sketch of a {}.", "art of the {}.")


def test_bad_templates_are_errors(make_dataset, tmp_path):
    ds = make_dataset()
    with pytest.raises(ValueError, match="has no templates of its own"):
        resolve_templates("dataset", make_dataset(templates=()))
    with pytest.raises(ValueError, match="no such file, and not one of: dataset, imagenet"):
        resolve_templates("imagenett", ds)
    with pytest.raises(ValueError, match="unknown CoOp dataset 'mnist'"):
        resolve_templates("coop:mnist", ds)
    f = tmp_path / "t.txt"
    f.write_text("a photo of a cat.\n")
    with pytest.raises(ValueError, match="needs '{}'"):
        resolve_templates(str(f), ds)
    f.write_text("# only comments\n")
    with pytest.raises(ValueError, match="none given"):
        resolve_templates(str(f), ds)


def test_prompts_fill_every_template_with_every_name():
    assert prompts(["cat", "big {dog}"], ["a {}.", "{} and {}"]) == [["a cat.", "cat and cat"], ["a big {dog}.", "big {dog} and big {dog}"]]


def test_class_renames(tmp_path):
    f = tmp_path / "r.json"
    f.write_text(json.dumps({"T-shirt/top": "t-shirt"}))
    assert load_class_renames(str(f), ["T-shirt/top", "trouser"]) == ("t-shirt", "trouser")
    assert load_class_renames(None, ["a"]) == ("a",)
    f.write_text(json.dumps({"tshirt": "t-shirt"}))
    with pytest.raises(ValueError, match=r"unknown class name\(s\) \['tshirt'\]"):
        load_class_renames(str(f), ["T-shirt/top"])
    f.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_class_renames(str(f), ["a"])
    f.write_text(json.dumps(["a"]))
    with pytest.raises(ValueError, match="JSON object"):
        load_class_renames(str(f), ["a"])
    with pytest.raises(ValueError, match="not found"):
        load_class_renames(str(tmp_path / "missing.json"), ["a"])
