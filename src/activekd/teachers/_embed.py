"""The on-disk cache of a vision-language backbone's image embeddings, and the embedding pass.

A backbone (:mod:`activekd.backbones`) loads its weights on the first encode, so a run whose embeddings are all
cached never loads a model.

Image embeddings are L2-normalised float32 ``[D]`` vectors, computed once per (dataset images,
backbone identity, preprocessing) and stored under ``CACHE/embeddings/<name>-<key>/``:
``meta.json`` (model, pretrained weights, preprocessing, dataset images fingerprint, dimension) and shards
``part-*.safetensors`` (tensor ``embeddings`` ``[n, D]``, the ``n`` sample ids in the header
metadata). ``<key>`` hashes the metadata, so changing any input selects another folder (the old
one is left for you to delete). Only the ids asked for and not yet cached are computed, and each
computation appends one shard; reading merges the shards (compacted into one past 16).

The embedding pass: a ``DataLoader`` whose workers decode and preprocess, large batches, bf16
autocast on CUDA, a tqdm progress bar. An :data:`Encoder` runs it: :func:`encode_images` in this process, or (in a
``torchrun`` launch, given by the session) every rank its share of whole batches, gathered on rank 0, which alone
writes the cache: the same batches as one process, so the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from pathlib import Path
from typing import Callable, Protocol, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from activekd._atomic import atomic_path, atomic_write
from activekd.backbones import BACKBONES, VisionLanguageModel, create_backbone
from activekd.data import Dataset, ImageSource
from activekd.device import autocast, is_accelerator
from activekd.errors import TeacherError, UnknownIdError
from activekd.progress import bar as progress_bar
from activekd.registry import parse_spec

from ._base import TeacherConfig, TeacherContext
from ._file import needed_ids

log = logging.getLogger(__name__)

CACHE_FORMAT = 1
MAX_SHARDS = 16


def digest(obj: object, n: int = 16) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:n]


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", name).strip("-")[:60] or "model"


# ----------------------------------------------------------------------------- the embedding pass


class ImageView(Protocol):
    """Another picture of each image than the original (an augmented view): ``view(position)`` -> PIL image;
    ``meta``: JSON-able description of it, part of the embedding cache's key. Picklable (DataLoader workers)."""

    meta: dict

    def __call__(self, position: int) -> Image.Image: ...


class _Pixels(torch.utils.data.Dataset):
    def __init__(self, load: Callable[[int], Image.Image], positions: np.ndarray, transform: Callable[[Image.Image], Tensor]) -> None:
        self.load, self.positions, self.transform = load, positions, transform

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, i: int) -> Tensor:
        return self.transform(self.load(int(self.positions[i])).convert("RGB"))


def encode_images(model: VisionLanguageModel, images: ImageSource, positions: np.ndarray, *, batch_size: int,
                  workers: int, device: torch.device, desc: str = "embedding images", view: ImageView | None = None,
                  progress: bool = True) -> Tensor:
    """Embed the images at ``positions`` (or their ``view``): ``[n, D]`` L2-normalised float32 on the CPU, in order.

    Decoding and preprocessing run in ``workers`` DataLoader processes (none when one batch is
    enough); the forward pass in bf16 autocast on CUDA, fp32 elsewhere. Batches are ``positions[i·b : (i+1)·b]``.
    """
    positions = np.asarray(positions, dtype=np.int64)
    if len(positions) == 0:
        raise TeacherError("encode_images: no images to embed")
    n_batches = -(-len(positions) // batch_size)
    loader = torch.utils.data.DataLoader(
        _Pixels(view or images.pil, positions, model.transform()), batch_size=batch_size, shuffle=False,
        num_workers=min(workers, n_batches - 1) if n_batches > 1 else 0, pin_memory=is_accelerator(device),
    )
    out = []
    with torch.inference_mode(), progress_bar(total=len(positions), desc=desc, unit="img", enabled=progress) as bar:
        for pixels in loader:
            pixels = pixels.to(device, non_blocking=True)
            with autocast(device):
                emb = model.encode_images(pixels)
            out.append(F.normalize(emb.float(), dim=-1).cpu())
            bar.update(len(pixels))
    return torch.cat(out)


Encoder = Callable[..., Tensor]
"""How an embedding pass runs: :func:`encode_images`'s signature and result (less ``progress``)."""


def encode_texts(model: VisionLanguageModel, texts: Sequence[str], *, batch_size: int, device: torch.device) -> Tensor:
    """Raw (not normalised) text embeddings ``[len(texts), D]``, float32 on the CPU."""
    out = []
    with torch.inference_mode():
        for s in range(0, len(texts), batch_size):
            with autocast(device):
                out.append(model.encode_texts(list(texts[s:s + batch_size])).float().cpu())
    return torch.cat(out)


# ----------------------------------------------------------------------------- the cache


def images_fingerprint(dataset: Dataset) -> str:
    """What fixes the pixels behind each sample id: the dataset's name, ids and file paths, and each
    file's size and modification time. Unlike ``Dataset.fingerprint`` it ignores labels and splits,
    so a run with another pool limit or split reuses the same embeddings."""
    h = hashlib.sha256()
    for part in ([dataset.name], dataset.ids, dataset.paths):
        h.update("\x1f".join(part).encode())
        h.update(b"\x1e")
    for p in dataset.paths:
        st = os.stat(p)
        h.update(f"{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()[:16]


class EmbeddingCache:
    """Image embeddings of one dataset under one backbone + preprocessing, keyed by sample id.

    ``meta`` is everything the embeddings depend on; the folder name hashes it. In memory the
    cache is a ``[m, D]`` table plus a dataset-position -> row map.
    """

    def __init__(self, root: Path, name: str, meta: dict, dataset: Dataset) -> None:
        self.meta = json.loads(json.dumps({"format": CACHE_FORMAT, **meta}, sort_keys=True, default=str))
        self.directory = Path(root) / "embeddings" / f"{slug(name)}-{digest(self.meta)}"
        self.dataset = dataset
        self._rows = np.full(len(dataset), -1, dtype=np.int64)
        self._chunks: list[Tensor] = []
        self._table: Tensor | None = None
        self._count = 0
        self._shards_seen: set[str] = set()
        self._load()

    # -- reading
    def _shards(self) -> list[Path]:
        return sorted(self.directory.glob("part-*.safetensors"))

    def _load(self) -> None:
        from safetensors import safe_open

        if not self.directory.is_dir():
            return
        meta_file = self.directory / "meta.json"
        if meta_file.is_file():
            on_disk = json.loads(meta_file.read_text())
            if {k: v for k, v in on_disk.items() if k != "dim"} != self.meta:
                raise RuntimeError(f"embedding cache {self.directory} holds embeddings of other inputs; delete that folder")
        for shard in self._shards():
            if shard.name in self._shards_seen:
                continue
            try:
                with safe_open(str(shard), framework="pt") as f:
                    ids = json.loads(f.metadata()["ids"])
                    emb = f.get_tensor("embeddings").float()
                pos = self.dataset.index_of(ids)
            except FileNotFoundError:  # compacted away by another process meanwhile
                continue
            except Exception as e:  # noqa: BLE001 - a damaged shard is skipped, its ids recomputed
                log.warning("skipping unreadable embedding shard %s (%s)", shard, e)
                continue
            self._shards_seen.add(shard.name)
            self._append(pos, emb)

    def _append(self, positions: np.ndarray, emb: Tensor) -> None:
        if emb.shape[0] != len(positions):
            raise TeacherError("embedding rows and ids differ in number")
        self._rows[positions] = np.arange(self._count, self._count + len(positions))
        self._chunks.append(emb)
        self._count += len(positions)
        self._table = None

    def table(self) -> Tensor:
        if self._table is None:
            self._table = torch.cat(self._chunks) if self._chunks else torch.empty(0, 0)
            self._chunks = [self._table]
        return self._table

    def missing(self, positions: np.ndarray) -> np.ndarray:
        """The positions (unique, in first-seen order) without a cached embedding."""
        positions = np.asarray(positions, dtype=np.int64)
        miss = positions[self._rows[positions] < 0]
        _, first = np.unique(miss, return_index=True)
        return miss[np.sort(first)]

    def get(self, positions: np.ndarray) -> Tensor:
        """``[len(positions), D]`` cached embeddings; every position must be cached."""
        rows = self._rows[np.asarray(positions, dtype=np.int64)]
        if (rows < 0).any():
            raise UnknownIdError(f"embedding cache {self.directory}: {int((rows < 0).sum())} id(s) not embedded yet")
        return self.table()[torch.from_numpy(rows)]

    def __len__(self) -> int:
        return int((self._rows >= 0).sum())

    # -- writing
    def add(self, positions: np.ndarray, emb: Tensor) -> None:
        """Store embeddings for ``positions`` (one new shard on disk, atomically)."""
        from safetensors.torch import save_file

        positions = np.asarray(positions, dtype=np.int64)
        emb = emb.float().contiguous().cpu()
        self.directory.mkdir(parents=True, exist_ok=True)
        meta_file = self.directory / "meta.json"
        if not meta_file.is_file():
            atomic_write(meta_file, json.dumps({**self.meta, "dim": int(emb.shape[1])}, indent=1, sort_keys=True, default=str))
        ids = [self.dataset.ids[p] for p in positions]
        name = f"part-{time.time_ns():020d}-{os.getpid()}.safetensors"
        self._write(name, ids, emb, save_file)
        self._shards_seen.add(name)
        self._append(positions, emb)
        shards = self._shards()
        if len(shards) > MAX_SHARDS:
            self._compact(shards, save_file)

    def _write(self, name: str, ids: list[str], emb: Tensor, save_file: Callable) -> None:
        with atomic_path(self.directory / name) as tmp:
            save_file({"embeddings": emb}, str(tmp), metadata={"ids": json.dumps(ids)})

    def _compact(self, shards: list[Path], save_file: Callable) -> None:
        have = np.flatnonzero(self._rows >= 0)
        name = f"part-{time.time_ns():020d}-{os.getpid()}.safetensors"
        self._write(name, [self.dataset.ids[p] for p in have], self.get(have).contiguous(), save_file)
        for s in shards:
            s.unlink(missing_ok=True)
        self._shards_seen = {name}
        log.debug("compacted %d embedding shards in %s", len(shards), self.directory)


class ImageEmbedder:
    """Embeddings for sample ids, computed on demand and cached (see the module docstring); of the original images,
    or of one augmented ``view`` of each (its ``meta`` joins the cache key, so each view has its own folder)."""

    def __init__(self, model: VisionLanguageModel, dataset: Dataset, cache_dir: str | os.PathLike, *, batch_size: int = 256,
                 workers: int = 4, device: torch.device | str = "cpu", view: ImageView | None = None,
                 encoder: Encoder | None = None) -> None:
        self.model = model
        self.encode = encoder or encode_images
        self.dataset = dataset
        self.batch_size = batch_size
        self.workers = workers
        self.device = torch.device(device)
        self.view = view
        meta = {
            "model": model.identity, "preprocess": model.preprocess,
            "dataset": {"name": dataset.name, "images": images_fingerprint(dataset), "size": len(dataset)},
            "normalized": True,
        }
        self.cache = EmbeddingCache(Path(cache_dir), model.name, meta if view is None else {**meta, "view": view.meta}, dataset)

    @property
    def directory(self) -> Path:
        return self.cache.directory

    def embeddings(self, ids: Sequence[str]) -> Tensor:
        """``[len(ids), D]`` L2-normalised float32 CPU embeddings; only uncached ids are computed."""
        positions = self.dataset.index_of(ids)
        todo = self.cache.missing(positions)
        if len(todo):
            log.info("embedding %d image(s) with %s (cache: %s)", len(todo), self.model.name, self.directory)
            emb = self.encode(self.model, self.dataset.images, todo, batch_size=self.batch_size, workers=self.workers,
                                device=self.device, desc=f"embedding images ({self.model.name})", view=self.view)
            self.cache.add(todo, emb)
        return self.cache.get(positions)


def embed_dataset(config: TeacherConfig, ctx: TeacherContext, *, ids: Sequence[str] | None = None) -> Path:
    """Fill the image-embedding cache for ``config.spec`` (openclip:... or hf:...) on ``ctx.dataset``.

    Embeds ``ids`` (default: every pool, val and test sample) that are not cached yet, on
    ``ctx.device`` with ``config.batch_size`` and ``config.embed_workers``, and returns the cache
    folder (``meta.json`` + ``part-*.safetensors``). Teachers built later with the same model,
    preprocessing and dataset find everything there and load no model.
    """
    kind, _ = parse_spec(config.spec)
    if kind not in BACKBONES:
        raise TeacherError(f"embedding needs a vision-language teacher spec ({' | '.join(f'{k}:...' for k in BACKBONES.names())}), got {config.spec!r}")
    model = create_backbone(config.spec, device=ctx.device, seed=ctx.seed)
    embedder = ImageEmbedder(model, ctx.dataset, ctx.cache_dir, batch_size=config.batch_size, workers=config.embed_workers, device=ctx.device,
                             encoder=ctx.encoder)
    want = list(ids) if ids is not None else needed_ids(ctx)
    if want:
        embedder.embeddings(want)
    return embedder.directory
