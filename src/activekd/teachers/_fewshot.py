"""Few-shot heads on frozen, L2-normalised image embeddings: CLAP and Tip-Adapter-F.

Both start from the zero-shot text classifier and are refitted from scratch on the current
labeled set after every round. Pure functions of tensors (device = the tensors' device; the only
randomness is the minibatch order, drawn from the ``torch.Generator`` passed in), plus a thin head
class per method. Shapes: ``features [n, D]`` (unit rows), ``labels [n]`` long, ``classifier [D, C]``
(unit columns, the zero-shot classifier), logits ``[n, C]``.

Differences from the papers, both deliberate: features are cached embeddings, of the whole images and,
with ``--views K``, of K fixed augmented views each (the papers draw 10-20 or fresh augmented views per
labeled image), and no validation set is used to pick
hyperparameters (the papers' defaults below are used as they are; CLAP is designed to need none).

Recipes (``FEW_SHOT_RECIPES``, ``--few-shot-recipe``): ``published`` = each method's paper defaults
(``ClapSettings``, ``TipAdapterSettings``); ``reference`` = the CLAP schedule of the PCoreSet authors'
code (``ClapReferenceSettings``; CLAP only). See docs/presets.md.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Callable, Iterator, Protocol, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from activekd.errors import TeacherError
from activekd.registry import Registry
from activekd.schedule import lr_factor

LOGIT_SCALE = 100.0
"""CLIP's learned temperature (exp(4.6052) = 100, the clamp value), used by every VLM teacher."""


def zero_shot_logits(features: Tensor, classifier: Tensor, logit_scale: float = LOGIT_SCALE) -> Tensor:
    """``logit_scale · f · W``: ``[n, D] @ [D, C] -> [n, C]``."""
    return logit_scale * features @ classifier


def _batches(n: int, batch_size: int, generator: torch.Generator):
    perm = torch.randperm(n, generator=generator)
    for s in range(0, n, batch_size):
        yield perm[s:s + batch_size]


@contextlib.contextmanager
def _trainable():
    """Autograd on, whatever the caller's mode (``inference_mode`` / ``no_grad``); inputs are cloned inside."""
    with torch.inference_mode(False), torch.enable_grad():
        yield


def _check(features: Tensor, labels: Tensor, num_classes: int) -> None:
    if features.ndim != 2 or labels.shape != (features.shape[0],):
        raise TeacherError(f"features [n, D] and labels [n] expected, got {tuple(features.shape)} and {tuple(labels.shape)}")
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise TeacherError(f"labels must be in 0..{num_classes - 1}")


# ----------------------------------------------------------------------------- CLAP


@dataclass(frozen=True)
class ClapSettings:
    """CLAP's defaults (Silva-Rodríguez et al., CVPR 2024; official code jusiro/CLAP,
    ``SGD_lr1e-1_B256_ep300``): SGD, momentum 0.9, lr 0.1, batch 256, 300 epochs, cosine decay after
    one warm-up epoch at a constant 1e-5, no weight decay."""

    epochs: int = 300
    lr: float = 0.1
    momentum: float = 0.9
    batch_size: int = 256
    warmup_lr: float = 1e-5
    logit_scale: float = LOGIT_SCALE

    def plan(self, n: int, generator: torch.Generator) -> Iterator[tuple[float, Tensor]]:
        """``(lr, batch indices [≤ batch_size])`` per step: ``epochs`` shuffled passes over the ``n`` samples,
        lr 1e-5 in the first epoch, then ``0.5 · lr · (1 + cos(π (epoch − 1) / epochs))``."""
        for epoch in range(self.epochs):
            lr = self.warmup_lr if epoch == 0 else 0.5 * self.lr * (1 + math.cos(math.pi * (epoch - 1) / self.epochs))
            for b in _batches(n, self.batch_size, generator):
                yield lr, b


@dataclass(frozen=True)
class ClapReferenceSettings:
    """The CLAP schedule of the PCoreSet authors' code (erjui/PCoreSet ``clap_others.py``,
    ``train_clap_teacher``): SGD, momentum 0.9, lr 0.01, batch 64, ``repeat × n`` samples drawn with
    replacement (``RandomSampler(replacement=True)``, ``drop_last=True``: ``⌊repeat · n / 64⌋`` full
    batches), linear warm-up over 10% of the steps then linear decay to 0, no weight decay. The
    reference crops each image afresh every step (RandomResizedCrop, area 0.08-1); here the
    features are whatever the teacher embedded (the centre crop, or its fixed views)."""

    repeat: int = 300
    lr: float = 0.01
    momentum: float = 0.9
    batch_size: int = 64
    warmup: float = 0.1
    logit_scale: float = LOGIT_SCALE

    def steps(self, n: int) -> int:
        """``max(1, ⌊repeat · n / batch_size⌋)``."""
        return max(1, self.repeat * n // self.batch_size)

    def lr_at(self, step: int, total: int) -> float:
        """``lr · lr_factor(step, total, warmup)``: the student's warm-up + linear decay (``activekd.schedule.lr_factor``)."""
        return self.lr * lr_factor(step, total, self.warmup)

    def plan(self, n: int, generator: torch.Generator) -> Iterator[tuple[float, Tensor]]:
        """``(lr, batch indices [batch_size])`` per step, indices drawn uniformly with replacement."""
        total = self.steps(n)
        for step in range(total):
            yield self.lr_at(step, total), torch.randint(n, (self.batch_size,), generator=generator)


ClapRecipe = Union[ClapSettings, ClapReferenceSettings]


def clap_penalty_weights(zs_logits: Tensor, labels: Tensor, num_classes: int, unseen: float = 1.0) -> Tensor:
    """CLAP's class-adaptive multipliers λ ``[C]`` from zero-shot performance on the support set.

    λ_c = mean over the support samples of class c of the zero-shot softmax probability of class c
    (CLAP's ``init_lagrangian_multipliers``): classes CLIP already gets right are held close to their
    zero-shot prototypes. Classes with no labeled sample get ``unseen`` (kept at zero-shot).
    """
    probs = zs_logits.float().softmax(dim=-1)
    onehot = F.one_hot(labels, num_classes).to(probs.dtype)
    count = onehot.sum(0)
    lam = (probs * onehot).sum(0) / count.clamp_min(1)
    return torch.where(count > 0, lam, torch.full_like(lam, unseen))


def fit_clap(features: Tensor, labels: Tensor, base: Tensor, *, generator: torch.Generator,
             settings: ClapRecipe = ClapSettings()) -> Tensor:
    """CLAP: a linear probe initialised at the zero-shot prototypes, with a class-adaptive penalty.

    Minimises  CE(s · f · normalize(w_c)) + mean_c λ_c ‖w_c − t_c‖²  over the prototypes ``w [C, D]``,
    starting at ``w = t = base`` (the zero-shot prototypes at the text embeddings' own scale, as in
    the official code), λ from ``clap_penalty_weights`` on the zero-shot logits of the support set.
    ``settings`` is the recipe: its ``plan`` gives each step's lr and minibatch. Returns the fitted
    prototypes ``[C, D]`` (use ``clap_logits``).
    """
    num_classes = base.shape[0]
    _check(features, labels, num_classes)
    with _trainable():
        features, labels, base = features.clone(), labels.clone(), base.detach().float().clone()
        lam = clap_penalty_weights(zero_shot_logits(features, F.normalize(base, dim=-1).T, settings.logit_scale), labels, num_classes)
        w = base.clone().requires_grad_(True)
        opt = torch.optim.SGD([w], lr=settings.lr, momentum=settings.momentum)
        for lr, b in settings.plan(len(labels), generator):
            for group in opt.param_groups:
                group["lr"] = lr
            b = b.to(features.device)
            logits = settings.logit_scale * features[b] @ F.normalize(w, dim=-1).T
            loss = F.cross_entropy(logits, labels[b]) + (lam * (w - base).pow(2).sum(-1)).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return w.detach()


def clap_logits(features: Tensor, prototypes: Tensor, logit_scale: float = LOGIT_SCALE) -> Tensor:
    """``s · f · normalize(w)ᵀ``: ``[n, D], [C, D] -> [n, C]``."""
    return logit_scale * features @ F.normalize(prototypes, dim=-1).T


# ----------------------------------------------------------------------------- Tip-Adapter-F


@dataclass(frozen=True)
class TipAdapterSettings:
    """Tip-Adapter-F's defaults (Zhang et al., ECCV 2022; official code gaopengcuhk/Tip-Adapter):
    residual ratio α = 1, sharpness β = 5.5 (the paper's defaults, before its validation search),
    AdamW (eps 1e-4) with cosine annealing, lr 1e-3, batch 256, 20 epochs."""

    alpha: float = 1.0
    beta: float = 5.5
    epochs: int = 20
    lr: float = 1e-3
    batch_size: int = 256
    logit_scale: float = LOGIT_SCALE


def tip_adapter_logits(features: Tensor, keys: Tensor, values: Tensor, classifier: Tensor, *, alpha: float, beta: float,
                       logit_scale: float = LOGIT_SCALE) -> Tensor:
    """``s · f · W + α · exp(−β (1 − f · Kᵀ)) · V``.

    ``keys K [m, D]`` (the labeled embeddings, fine-tuned), ``values V [m, C]`` (their one-hot labels).
    """
    affinity = features @ keys.T
    return logit_scale * features @ classifier + alpha * torch.exp(-beta * (1 - affinity)) @ values


def fit_tip_adapter_f(features: Tensor, labels: Tensor, classifier: Tensor, *, generator: torch.Generator,
                      settings: TipAdapterSettings = TipAdapterSettings()) -> tuple[Tensor, Tensor]:
    """Tip-Adapter-F: build the cache (keys = labeled embeddings, values = one-hot labels) and
    fine-tune the keys with cross-entropy on the labeled set. Returns ``(keys [m, D], values [m, C])``."""
    num_classes = classifier.shape[1]
    _check(features, labels, num_classes)
    with _trainable():
        features, labels, classifier = features.clone(), labels.clone(), classifier.clone()
        values = F.one_hot(labels, num_classes).to(features.dtype)
        keys = features.detach().clone().requires_grad_(True)
        opt = torch.optim.AdamW([keys], lr=settings.lr, eps=1e-4)
        steps = settings.epochs * -(-len(labels) // settings.batch_size)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(steps, 1))
        for _ in range(settings.epochs):
            for b in _batches(len(labels), settings.batch_size, generator):
                b = b.to(features.device)
                logits = tip_adapter_logits(features[b], keys, values, classifier, alpha=settings.alpha, beta=settings.beta,
                                            logit_scale=settings.logit_scale)
                loss = F.cross_entropy(logits, labels[b])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
    return keys.detach(), values


# ----------------------------------------------------------------------------- recipes


FEW_SHOT_RECIPES: Registry[dict[str, tuple[type, str]]] = Registry("few-shot recipe")
"""recipe -> ``{method: (settings class, the field --few-shot-epochs sets)}``; a method a recipe lacks is refused."""
FEW_SHOT_RECIPES.register("published")({"clap": (ClapSettings, "epochs"), "tip-adapter-f": (TipAdapterSettings, "epochs")})
FEW_SHOT_RECIPES.register("reference")({"clap": (ClapReferenceSettings, "repeat")})


def check_few_shot_method(method: str) -> None:
    """Raise unless ``method`` is "none" or a registered few-shot head."""
    if method != "none" and method not in FEW_SHOT_HEADS:
        raise TeacherError(f"unknown few-shot method {method!r}; valid: none, {', '.join(FEW_SHOT_HEADS.names())}")


def check_recipe(recipe: str, method: str) -> None:
    """Raise unless ``recipe`` is known and (``method`` "none" aside) covers ``method``."""
    methods = FEW_SHOT_RECIPES.get(recipe)
    if method != "none" and method in FEW_SHOT_HEADS and method not in methods:
        raise TeacherError(f"few-shot recipe {recipe!r} has no {method}; it covers: {', '.join(methods)}")


def recipe_settings(recipe: str, method: str, *, epochs: int | None = None, **extra: float):
    """The settings ``recipe`` gives ``method``; ``epochs`` (None = the recipe's own) sets its epochs
    (``published``) or its repeat factor (``reference``: ``epochs × n`` samples); ``extra``: other fields."""
    check_recipe(recipe, method)
    cls, epochs_field = FEW_SHOT_RECIPES.get(recipe)[method]
    return cls(**({epochs_field: epochs} if epochs is not None else {}), **extra)


# ----------------------------------------------------------------------------- heads


class FewShotHead(Protocol):
    """A head on frozen embeddings; before its first ``fit`` (or after one on no labels) it is zero-shot."""

    def fit(self, features: Tensor, labels: Tensor, generator: torch.Generator) -> None: ...

    def logits(self, features: Tensor) -> Tensor: ...


class ClapHead:
    """CLAP on the zero-shot classifier ``[D, C]``; ``text_norm`` puts the prototypes back at the text embeddings' scale."""

    def __init__(self, classifier: Tensor, text_norm: float, *, recipe: str = "published", epochs: int | None = None,
                 **_: object) -> None:
        self.base = classifier.T.float() * float(text_norm)
        self.settings = recipe_settings(recipe, "clap", epochs=epochs)
        self.prototypes = self.base

    def fit(self, features: Tensor, labels: Tensor, generator: torch.Generator) -> None:
        base = self.base.to(features.device)
        self.prototypes = base if len(labels) == 0 else fit_clap(features, labels, base, generator=generator, settings=self.settings)

    def logits(self, features: Tensor) -> Tensor:
        return clap_logits(features, self.prototypes.to(features.device), self.settings.logit_scale)


class TipAdapterFHead:
    """Tip-Adapter-F on the zero-shot classifier ``[D, C]``."""

    def __init__(self, classifier: Tensor, text_norm: float, *, recipe: str = "published", epochs: int | None = None,
                 alpha: float = 1.0, beta: float = 5.5, **_: object) -> None:
        self.classifier = classifier.float()
        self.settings = recipe_settings(recipe, "tip-adapter-f", epochs=epochs, alpha=alpha, beta=beta)
        self.keys: Tensor | None = None
        self.values: Tensor | None = None

    def fit(self, features: Tensor, labels: Tensor, generator: torch.Generator) -> None:
        if len(labels) == 0:
            self.keys = self.values = None
            return
        self.keys, self.values = fit_tip_adapter_f(features, labels, self.classifier.to(features.device), generator=generator,
                                                   settings=self.settings)

    def logits(self, features: Tensor) -> Tensor:
        w = self.classifier.to(features.device)
        if self.keys is None:
            return zero_shot_logits(features, w, self.settings.logit_scale)
        s = self.settings
        return tip_adapter_logits(features, self.keys.to(features.device), self.values.to(features.device), w,
                                  alpha=s.alpha, beta=s.beta, logit_scale=s.logit_scale)


HeadFactory = Callable[..., FewShotHead]
FEW_SHOT_HEADS: Registry[HeadFactory] = Registry("few-shot method")
FEW_SHOT_HEADS.register("clap")(ClapHead)
FEW_SHOT_HEADS.register("tip-adapter-f")(TipAdapterFHead)


def create_head(method: str, classifier: Tensor, text_norm: float, *, recipe: str = "published", epochs: int | None = None,
                alpha: float = 1.0, beta: float = 5.5) -> FewShotHead:
    """The few-shot head ``method`` (clap | tip-adapter-f) on ``classifier [D, C]``, trained by ``recipe``
    (``FEW_SHOT_RECIPES``); ``epochs`` None = the recipe's. ``alpha`` / ``beta``: Tip-Adapter's residual
    ratio and sharpness (ignored by CLAP)."""
    return FEW_SHOT_HEADS.get(method)(classifier, text_norm, recipe=recipe, epochs=epochs, alpha=alpha, beta=beta)
