"""Vision-language teachers: zero-shot from class names, optionally few-shot (CLAP, Tip-Adapter-F).

Specs ``openclip:ARCH[:PRETRAINED]`` and ``hf:MODEL_ID_OR_DIR`` (see :mod:`activekd.backbones`), with
``TeacherConfig.few_shot`` = none | clap | tip-adapter-f.

Zero-shot classifier (Radford et al. 2021; open_clip's ``build_zero_shot_classifier``): for each
class c, embed the class name in every template t, L2-normalise each embedding, average over t,
re-normalise: ``W[:, c]``. Logits = 100 · normalised image embedding · W. The classifier is cached
on disk per (model, prompt names, templates) under ``CACHE/embeddings/text/``, the image
embeddings per (model, preprocessing, dataset) (``_embed.EmbeddingCache``); a teacher whose
embeddings are all cached never loads the model. ``logits(ids)`` embeds only ids not yet cached,
then runs the head; ``fit`` (few-shot teachers) refits the head on the labeled ids' (whole-image) embeddings.
With ``TeacherConfig.views = K`` the teacher also scores K fixed augmented views of each image
(``view_logits(ids, k)``: the same head on view k's cached embeddings, see ``_views``).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from activekd._atomic import atomic_path
from activekd.backbones import VisionLanguageModel, create_backbone
from activekd.errors import TeacherError
from activekd.train import view_params

from ._base import TeacherConfig, TeacherContext, register_teacher
from ._embed import ImageEmbedder, digest, encode_texts, slug
from ._fewshot import (
    LOGIT_SCALE,
    FewShotHead,
    create_head,
    zero_shot_logits,
)
from ._templates import load_class_renames, prompts, resolve_templates
from ._views import view_embedders

log = logging.getLogger(__name__)

LOGITS_CHUNK = 65536


def zero_shot_classifier(text_embeddings: Tensor) -> tuple[Tensor, float]:
    """Prompt-ensemble classifier from raw text embeddings ``[C, T, D]`` (class, template, dim).

    Returns ``(W [D, C], text_norm)``: ``W[:, c] = normalize(mean_t normalize(e[c, t]))``, and the mean
    over classes of ``‖mean_t e[c, t]‖`` (the raw prototypes' scale, which CLAP's penalty works at).
    """
    if text_embeddings.ndim != 3:
        raise TeacherError(f"text embeddings must be [C, T, D], got {tuple(text_embeddings.shape)}")
    e = text_embeddings.float()
    w = F.normalize(F.normalize(e, dim=-1).mean(dim=1), dim=-1)
    return w.T.contiguous(), float(e.mean(dim=1).norm(dim=-1).mean())


def text_classifier(model: VisionLanguageModel, class_names: Sequence[str], templates: Sequence[str], *, cache_dir: Path,
                    batch_size: int, device: torch.device) -> tuple[Tensor, float]:
    """The zero-shot classifier of ``model`` for these prompts, from the disk cache or computed once."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    key = {"model": model.identity, "class_names": list(class_names), "templates": list(templates)}
    path = Path(cache_dir) / "embeddings" / "text" / f"{slug(model.name)}-{digest(key)}.safetensors"
    if path.is_file():
        with safe_open(str(path), framework="pt") as f:
            return f.get_tensor("classifier"), float(f.get_tensor("text_norm"))
    texts = [p for per_class in prompts(class_names, templates) for p in per_class]
    log.debug("embedding %d prompts (%d classes x %d templates) with %s", len(texts), len(class_names), len(templates), model.name)
    emb = encode_texts(model, texts, batch_size=batch_size, device=device)
    classifier, text_norm = zero_shot_classifier(emb.reshape(len(class_names), len(templates), -1))
    with atomic_path(path) as tmp:
        save_file({"classifier": classifier, "text_norm": torch.tensor(text_norm)}, str(tmp),
                  metadata={"key": json.dumps(key, default=str)})
    return classifier, text_norm


class VLMTeacher:
    """A CLIP-like teacher on cached image embeddings; zero-shot, or few-shot when given a head.

    ``logits(ids)``: ``[len(ids), C]`` float32 CPU. ``fit(ids, labels)``: refit the head (no-op when
    zero-shot). Deterministic given ``seed``: the only randomness is the head's minibatch order.
    """

    def __init__(self, name: str, embedder: ImageEmbedder, classifier: Tensor, head: FewShotHead | None, *,
                 device: torch.device, seed: int = 0, views: Sequence[ImageEmbedder] = ()) -> None:
        self.name = name
        self.embedder = embedder
        self.views = list(views)
        self.num_views = len(self.views)
        self.classifier = classifier.float()
        self.head = head
        self.adaptive = head is not None
        self.num_classes = int(classifier.shape[1])
        self.device = torch.device(device)
        self.seed = seed

    def embeddings(self, ids: Sequence[str]) -> Tensor:
        """``[len(ids), D]`` normalised image embeddings (computed for uncached ids only)."""
        return self.embedder.embeddings(ids)

    def logits(self, ids: Sequence[str]) -> Tensor:
        return self._head_logits(self.embeddings(ids))

    def view_params(self, ids: Sequence[str]) -> Tensor:
        """``[len(ids), K, 2, 3]``: the crop + flip maps of the ``K`` fixed views (see ``_views``)."""
        return view_params(self.seed, self.embedder.dataset.index_of(ids), self.num_views)

    def view_logits(self, ids: Sequence[str], k: int) -> Tensor:
        """``[len(ids), C]``: the head (zero-shot, or the fitted few-shot head) on view ``k``'s embeddings."""
        if not 0 <= k < self.num_views:
            raise TeacherError(f"teacher {self.name!r} has {self.num_views} view(s); no view {k}")
        return self._head_logits(self.views[k].embeddings(ids))

    def _head_logits(self, emb: Tensor) -> Tensor:
        """Normalised image embeddings ``[n, D]`` -> ``[n, C]`` float32 CPU logits."""
        w = self.classifier.to(self.device)
        out = []
        with torch.inference_mode():
            for s in range(0, len(emb), LOGITS_CHUNK):
                f = emb[s:s + LOGITS_CHUNK].to(self.device)
                out.append((self.head.logits(f) if self.head is not None else zero_shot_logits(f, w, LOGIT_SCALE)).float().cpu())
        return torch.cat(out) if out else torch.empty(0, self.num_classes)

    def fit(self, ids: Sequence[str], labels: Tensor) -> None:
        if self.head is None:
            return
        labels = torch.as_tensor(labels, dtype=torch.long).reshape(-1)
        if len(labels) != len(ids):
            raise TeacherError(f"teacher fit: {len(ids)} ids but {len(labels)} labels")
        if len(labels) and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise TeacherError(f"teacher fit: labels must be in 0..{self.num_classes - 1} (unknown labels cannot be fitted)")
        features = self._fit_features(ids)
        generator = torch.Generator().manual_seed(self.seed)
        self.head.fit(features, labels.repeat(1 + self.num_views).to(self.device), generator)

    def _fit_features(self, ids: Sequence[str]) -> Tensor:
        """``[(1 + K) · n, D]``: the labeled images' whole-image embeddings, then each fixed view's (the head is fitted
        on the views the student trains on too; labels repeat in the same order)."""
        if not len(ids):
            return torch.empty(0, self.classifier.shape[0], device=self.device)
        return torch.cat([self.embeddings(ids)] + [v.embeddings(ids) for v in self.views]).to(self.device)


def build_vlm_teacher(config: TeacherConfig, ctx: TeacherContext) -> VLMTeacher:
    """The VLM teacher ``config`` describes, for ``ctx.dataset`` (see the module docstring)."""
    ds = ctx.dataset
    device = torch.device(ctx.device)
    names = load_class_renames(config.class_renames, ds.class_names)
    templates = resolve_templates(config.templates, ds)
    model = create_backbone(config.spec, device=device, seed=ctx.seed)
    classifier, text_norm = text_classifier(model, names, templates, cache_dir=Path(ctx.cache_dir), batch_size=config.batch_size, device=device)
    head = None
    if config.few_shot != "none":
        head = create_head(config.few_shot, classifier, text_norm, epochs=config.few_shot_epochs, alpha=config.tip_alpha,
                           beta=config.tip_beta, recipe=config.few_shot_recipe)
    embedder = ImageEmbedder(model, ds, ctx.cache_dir, batch_size=config.batch_size, workers=config.embed_workers, device=device,
                             encoder=ctx.encoder)
    name = f"{config.spec} ({'zero-shot' if head is None else config.few_shot}, {len(templates)} template{'s' * (len(templates) > 1)})"
    views = view_embedders(model, ds, config, ctx)
    if views:
        name = f"{name[:-1]}, {len(views)} views)"
    return VLMTeacher(name, embedder, classifier, head, device=device, seed=ctx.seed, views=views)


@register_teacher("openclip", few_shot=True)
def _openclip_teacher(arg: str | None, config: TeacherConfig, ctx: TeacherContext) -> VLMTeacher:
    return build_vlm_teacher(config, ctx)


@register_teacher("hf", few_shot=True)
def _hf_teacher(arg: str | None, config: TeacherConfig, ctx: TeacherContext) -> VLMTeacher:
    return build_vlm_teacher(config, ctx)
