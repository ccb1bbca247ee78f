"""Datasets with stable sample ids, splits and k-shot initial sets."""

from ._base import (
    SPLITS,
    UNLABELED,
    ArraySource,
    Dataset,
    ImageSource,
    k_shot_ids,
    limit_split,
)
from ._coop import COOP_DATASETS, coop_info, list_coop_datasets, load_coop
from ._registry import DATASETS, create_dataset, list_datasets

__all__ = [
    "SPLITS", "UNLABELED", "ArraySource", "Dataset", "ImageSource", "k_shot_ids", "limit_split",
    "DATASETS", "create_dataset", "list_datasets", "COOP_DATASETS", "coop_info", "list_coop_datasets", "load_coop",
]
