"""The on-disk image-embedding cache: lazy, persistent, keyed by model, preprocessing and data."""

from __future__ import annotations

import dataclasses
import json
import logging

import numpy as np
import pytest
import torch

from activekd.teachers import ImageEmbedder, TeacherConfig, TeacherContext, embed_dataset
from activekd.teachers import _embed


def embedder(model, ds, cache, **kw):
    return ImageEmbedder(model, ds, cache, batch_size=kw.pop("batch_size", 4), workers=kw.pop("workers", 0), **kw)


def test_embeddings_are_normalised_and_computed_lazily(tmp_path, make_dataset, fake_vlm):
    ds, model = make_dataset(), fake_vlm()
    e = embedder(model, ds, tmp_path)
    a = e.embeddings(["s003", "s001"])
    assert a.shape == (2, model.dim) and a.dtype == torch.float32 and a.device.type == "cpu"
    torch.testing.assert_close(a.norm(dim=1), torch.ones(2))
    assert model.images_encoded == 2
    b = e.embeddings(["s001", "s002", "s003", "s002"])  # only s002 is new; duplicates are fine
    assert model.images_encoded == 3
    torch.testing.assert_close(b[0], a[1])
    torch.testing.assert_close(b[1], b[3])
    pixels = model.transform()(ds.images.pil(2))
    expect = torch.nn.functional.normalize((pixels.flatten() - 0.5) @ model.proj, dim=0)
    torch.testing.assert_close(b[1], expect)


def test_a_second_run_calls_no_model(tmp_path, make_dataset, fake_vlm):
    ds = make_dataset()
    first = embedder(fake_vlm(), ds, tmp_path).embeddings(ds.ids)
    again = embedder(fake_vlm(broken=True), make_dataset(), tmp_path)  # same inputs, fresh objects
    torch.testing.assert_close(again.embeddings(ds.ids[::-1]), first.flip(0))


@pytest.mark.parametrize("change", ["model", "preprocess", "data"])
def test_changing_an_input_recomputes(tmp_path, make_dataset, fake_vlm, change):
    ds = make_dataset()
    e1 = embedder(fake_vlm(), ds, tmp_path)
    e1.embeddings(ds.ids[:3])
    model = fake_vlm(tag="v2") if change == "model" else fake_vlm(size=4) if change == "preprocess" else fake_vlm()
    ds2 = make_dataset(seed=1, name="tiny2") if change == "data" else ds
    e2 = embedder(model, ds2, tmp_path)
    assert e2.directory != e1.directory
    e2.embeddings(ds2.ids[:3])
    assert model.images_encoded == 3


def test_other_labels_or_splits_reuse_the_embeddings(tmp_path, make_dataset, fake_vlm):
    ds = make_dataset()
    embedder(fake_vlm(), ds, tmp_path).embeddings(ds.ids)
    relabeled = dataclasses.replace(ds, labels=ds.labels[::-1].copy(), splits=np.array(["test"] * len(ds), dtype=object))
    assert relabeled.fingerprint() != ds.fingerprint()
    embedder(fake_vlm(broken=True), relabeled, tmp_path).embeddings(ds.ids)


def test_cache_folder_holds_metadata_and_id_keyed_shards(tmp_path, make_dataset, fake_vlm):
    from safetensors import safe_open

    ds = make_dataset()
    e = embedder(fake_vlm(), ds, tmp_path)
    e.embeddings(["s000", "s005"])
    meta = json.loads((e.directory / "meta.json").read_text())
    assert meta["model"] == {"backend": "fake", "tag": "v1"} and meta["preprocess"] == {"size": 8}
    assert meta["dataset"]["images"] == _embed.images_fingerprint(ds) and meta["dim"] == 16 and meta["normalized"] is True
    (shard,) = e.directory.glob("part-*.safetensors")
    with safe_open(str(shard), framework="pt") as f:
        assert json.loads(f.metadata()["ids"]) == ["s000", "s005"]
        assert f.get_tensor("embeddings").shape == (2, 16)


def test_shards_are_compacted_and_damaged_ones_skipped(tmp_path, make_dataset, fake_vlm, caplog):
    ds = make_dataset(n=24)
    e = embedder(fake_vlm(), ds, tmp_path)
    for i in range(_embed.MAX_SHARDS + 1):
        e.embeddings([ds.ids[i]])
    assert len(list(e.directory.glob("part-*.safetensors"))) == 1
    ref = e.embeddings(ds.ids[:_embed.MAX_SHARDS + 1])
    (e.directory / "part-99999999999999999999-1.safetensors").write_bytes(b"not a safetensors file")
    with caplog.at_level(logging.WARNING):
        again = embedder(fake_vlm(broken=True), ds, tmp_path)
    assert "skipping unreadable embedding shard" in caplog.text
    torch.testing.assert_close(again.embeddings(ds.ids[:_embed.MAX_SHARDS + 1]), ref)


def test_dataloader_workers_give_the_same_embeddings(tmp_path, make_dataset, fake_vlm):
    ds = make_dataset(n=12)
    serial = embedder(fake_vlm(), ds, tmp_path / "a").embeddings(ds.ids)
    parallel = embedder(fake_vlm(), ds, tmp_path / "b", batch_size=3, workers=2).embeddings(ds.ids)
    torch.testing.assert_close(parallel, serial)


def test_unknown_ids_are_errors(tmp_path, make_dataset, fake_vlm):
    with pytest.raises(KeyError, match="nope"):
        embedder(fake_vlm(), make_dataset(), tmp_path).embeddings(["nope"])


def test_embed_dataset_needs_a_vlm_spec(tmp_path, make_dataset):
    ctx = TeacherContext(make_dataset(), tmp_path, torch.device("cpu"))
    with pytest.raises(ValueError, match="vision-language teacher spec.*standin"):
        embed_dataset(TeacherConfig(spec="standin"), ctx)


def test_embed_dataset_fills_the_cache_a_teacher_then_reuses(tmp_path, make_dataset, fake_vlm, monkeypatch):
    ds = make_dataset()
    model = fake_vlm()
    monkeypatch.setattr(_embed, "create_backbone", lambda spec, **kw: model)
    monkeypatch.setitem(_embed.BACKBONES._items, "fake", lambda arg, **kw: model)
    ctx = TeacherContext(ds, tmp_path, torch.device("cpu"))
    path = embed_dataset(TeacherConfig(spec="fake:x", embed_workers=0, batch_size=5), ctx)
    assert (path / "meta.json").is_file()
    wanted = np.isin(ds.splits, ("pool", "val", "test")).sum()
    assert model.images_encoded == wanted
    again = embedder(fake_vlm(broken=True), ds, tmp_path)
    assert again.directory == path and again.embeddings(ds.ids).shape == (len(ds), model.dim)
