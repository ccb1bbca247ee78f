"""activekd: train a small deployable classifier with few human labels.

A vision-language teacher distils into a dual-head student (DHO, Kang et al. 2025,
arXiv 2505.07675) while active learning (PCoreSet, Kang et al. 2025, arXiv 2506.00910)
picks which images a person labels next.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    """``activekd.load_predictor``, imported on first use (it does not import torch for ONNX)."""
    if name == "load_predictor":
        from activekd.export import load_predictor

        return load_predictor
    raise AttributeError(f"module 'activekd' has no attribute {name!r}")
