"""Fixed augmented views for embedding (VLM) teachers: each view of each image embedded once, then cached.

With ``TeacherConfig.views = K`` the student trains on one of ``K`` fixed views of an image (random resized
crop + flip, ``activekd.train.view_params``: a pure function of (run seed, dataset position, view index)) and
the teacher's target is its logits on that same view. View ``k`` of an image is cut from the dataset's uint8
image (the square the student trains on) with the trainer's own resampling, turned back into a PIL image and
put through the model's preprocessing; its embeddings live in their own cache folder, keyed by the view.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from activekd.backbones import VisionLanguageModel
from activekd.data import Dataset, ImageSource
from activekd.train import CROP_RATIO, CROP_SCALE, apply_crop_flip, view_params

from ._base import TeacherConfig, TeacherContext
from ._embed import ImageEmbedder, digest

VIEW_RECIPE = 2  # bump when view_params or the cutting below changes meaning (2: torchvision's redraws, not clipping)
_PROBE = 64  # positions whose parameters go into the cache key, so a changed recipe cannot reuse old embeddings


class CropView:
    """View ``k`` of every image: ``view(position)`` -> PIL image (see the module docstring). Picklable."""

    def __init__(self, images: ImageSource, seed: int, k: int, views: int) -> None:
        self.images, self.seed, self.k, self.views = images, seed, k, views
        probe = view_params(seed, np.arange(_PROBE), views)[:, k]
        self.meta = {"recipe": VIEW_RECIPE, "seed": seed, "view": k, "scale": list(CROP_SCALE), "ratio": [round(r, 6) for r in CROP_RATIO],
                     "flip": True, "source_size": list(images.size), "probe": digest(probe.numpy().round(6).tolist())}

    def __call__(self, position: int) -> Image.Image:
        theta = view_params(self.seed, [position], self.views)[:, self.k]
        x = self.images.batch(np.array([position])).float()
        a = apply_crop_flip(x, theta).round().clamp(0, 255).to(torch.uint8)[0].numpy()
        return Image.fromarray(a[0]) if a.shape[0] == 1 else Image.fromarray(np.ascontiguousarray(np.moveaxis(a, 0, -1)))


def view_embedders(model: VisionLanguageModel, dataset: Dataset, config: TeacherConfig, ctx: TeacherContext) -> list[ImageEmbedder]:
    """One cached :class:`ImageEmbedder` per view ``k < config.views`` (none when ``views = 0``)."""
    return [ImageEmbedder(model, dataset, ctx.cache_dir, batch_size=config.batch_size, workers=config.embed_workers,
                          device=ctx.device, view=view, encoder=ctx.encoder)
            for view in crop_views(dataset.images, ctx.seed, config.views)]


def crop_views(images: ImageSource, seed: int, views: int) -> list[CropView]:
    """The ``views`` fixed views of ``images`` for run seed ``seed``."""
    return [CropView(images, seed, k, views) for k in range(views)]
