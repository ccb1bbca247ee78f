"""One way to point Label Studio at a run's images, and every Label Studio check made before anything is written.

Label Studio serves a file as ``/data/local-files/?d=PATH`` where ``PATH`` is relative to its
``LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT``, and only under a *Local files* storage of the project.
activekd takes that root from ``--ls-document-root`` (or, when the flag is left out, from the same
environment variable, read once when the run is made and stored with it), and serves every image
of a run from one folder: :func:`image_folder`, the common folder of the dataset's files, or
``RUN/images`` for a dataset without files. The human, labelstudio and serve paths all use it.

:func:`check_label_studio` runs before a run folder is made, before a stored option changes, and
before ``serve`` trains: the document root holds the images; for ``--oracle labelstudio`` also
the server answers, takes the token, has a compatible project (made when missing), agrees on the
document root, and has the Local files storage (made when missing, once the folder exists).
"""

from __future__ import annotations

import os
from pathlib import Path

from activekd.config import LabelStudioConfig, RunConfig
from activekd.data import Dataset
from activekd.layout import RunLayout

from ._labelstudio import LabelFileError

ROOT_ENV = "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT"
"""The server's document root variable; activekd reads it too when ``--ls-document-root`` is left out (at ``run``)."""
_SAME_AS_ROOT = "cannot be the same as"  # Label Studio's refusal of a storage at its document root itself


def with_env_document_root(ls: LabelStudioConfig, environ=os.environ) -> LabelStudioConfig:
    """``ls`` with ``document_root`` from :data:`ROOT_ENV` when it has none (a new run's options, built once)."""
    import dataclasses

    root = (environ.get(ROOT_ENV) or "").strip()
    return ls if ls.document_root or not root else dataclasses.replace(ls, document_root=root)


def image_folder(out: Path, dataset: Dataset) -> Path:
    """The one folder Label Studio serves a run's images from: the dataset files' common folder, or ``out/images``."""
    if dataset.paths:
        pool = [dataset.paths[p] for p in dataset.split_indices("pool").tolist()]
        return Path(os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in pool]))
    return RunLayout(os.path.abspath(out)).images


def project_title(ls: LabelStudioConfig, out: Path) -> str:
    return ls.project or f"activekd {Path(out).resolve().name}"


def check_document_root(config: RunConfig, out: Path, dataset: Dataset) -> Path | None:
    """The image folder when Label Studio will serve it: under the document root, not the root itself. None: no root given."""
    root = config.labelstudio.document_root
    if not root:
        if config.loop.oracle == "labelstudio":
            raise LabelFileError(f"--oracle labelstudio needs --ls-document-root DIR (or {ROOT_ENV} set in the environment): "
                                 f"the server's {ROOT_ENV}, a folder above the images (docs/labelstudio.md)")
        return None
    base, folder = Path(os.path.abspath(root)), image_folder(out, dataset)
    if not base.is_dir():
        raise LabelFileError(f"--ls-document-root {root} is not a folder on this machine; give the server's {ROOT_ENV}")
    if base not in folder.parents:
        what = "the dataset's images lie in" if dataset.paths else "the run's images will be written to"
        raise LabelFileError(f"{what} {folder}, which is not inside --ls-document-root {base} (Label Studio serves only files "
                             f"below its {ROOT_ENV}); use a root above it" + ("" if dataset.paths else " or an --out below it"))
    return folder


def check_label_studio(config: RunConfig, out: Path, dataset: Dataset) -> None:
    """Every Label Studio check a command can make before it writes anything (see the module's docstring)."""
    folder = check_document_root(config, out, dataset)
    if config.loop.oracle != "labelstudio":
        return
    from ._studio_link import link_from_env

    link = link_from_env(config.labelstudio.url)
    project = link.ensure_project(project_title(config.labelstudio, out), list(dataset.class_names))
    _check_server_root(link, project, config.labelstudio.document_root)
    if folder is not None and folder.is_dir():
        link.ensure_local_storage(project, folder)


def _check_server_root(link, project: int, root: str) -> None:
    """The server's document root is ``root`` (or above it): Label Studio refuses a storage at its root *because* it is the root."""
    try:
        link.check_local_folder(project, root)
    except LabelFileError as e:
        if _SAME_AS_ROOT not in str(e):
            raise LabelFileError(f"Label Studio at {link.url} does not serve files from --ls-document-root {root}: "
                                 f"{str(e).split(': ', 1)[-1]}") from None
