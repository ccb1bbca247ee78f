"""Run by test_embed_parallel.py, alone or under ``torchrun --nproc-per-node 2`` (gloo, CPU): a VLM teacher (the
tests' fake backbone) embeds images through the session's compute path into the cache under ARGV[1]; every rank
writes how many images its backbone encoded to ARGV[2]/rank-R.json.

Rank 0 builds the teacher with the session's encoder (``Compute.embed``); the other ranks serve its jobs
(``serve_jobs`` with a ``RankShare`` of the same dataset and teacher configuration), as ``serve_rank`` does in a run.
"""

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from conftest import FakeVLM, tiny_dataset  # noqa: E402

from activekd.config import RunConfig  # noqa: E402
from activekd.session._compute import RankShare, launch, serve_jobs  # noqa: E402
from activekd.teachers import TeacherConfig, TeacherContext, create_teacher, register_teacher  # noqa: E402
from activekd.backbones import BACKBONES  # noqa: E402
from activekd.teachers._zeroshot import build_vlm_teacher  # noqa: E402

SEED = 3
CPU = torch.device("cpu")
BACKBONES.register("fake")(lambda arg, *, device, seed: FakeVLM(arg or "v1"))
register_teacher("fake")(lambda arg, config, ctx: build_vlm_teacher(config, ctx))


def main(cache: str, out: str) -> None:
    ds = tiny_dataset(n=45, size=32)
    config = TeacherConfig(spec="fake:v1", batch_size=4, embed_workers=0, views=2)
    with launch("cpu") as compute:
        if compute.group.is_main:
            compute.start(RunConfig())
            teacher = create_teacher(config, TeacherContext(ds, Path(cache), CPU, SEED, encoder=compute.embed))
            ids = ds.ids[:31]  # 8 batches of 4, the last of 3: 4 batches per rank
            teacher.logits(ids)
            for k in range(2):
                teacher.view_logits(ids, k)
            teacher.logits(ds.ids[31:34])  # one batch: fewer batches than ranks, rank 0 alone
            encoded = teacher.embedder.model.images_encoded
        else:
            compute.group.broadcast()  # the run's configuration
            share = RankShare(ds, CPU, config, SEED)
            serve_jobs(compute, share)
            encoded = share._backbone.images_encoded
        Path(out, f"rank-{compute.group.rank}.json").write_text(json.dumps({"encoded": encoded}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
