"""Run by test_parallel.py under ``torchrun --nproc-per-node 2`` (gloo, CPU): rank 0 writes what it saw to ARGV[1].

- the training batches: every rank keeps its share of each step's draw; gathered, the shares equal the one-process
  draw (indices, augmented pixels, labels, teacher targets), step after step;
- inference: each rank runs its shard of the positions; gathered, the outputs equal one process's, and PCoreSet picks
  the same images from them.
"""

import json
import sys

import numpy as np
import torch

from activekd.data import ArraySource
from activekd.parallel import SOLO, join, leave
from activekd.select import SelectionInputs, select
from activekd.students import create_student
from activekd.train import ImageBank, TrainBatchSource, TrainConfig, predict
from activekd.train._trainer import _Sampler


def draws_match(group, bank, src: TrainBatchSource, cfg: TrainConfig, steps: int) -> bool:
    mine = _Sampler(src, cfg, torch.Generator().manual_seed(5), group, torch.device("cpu"))
    solo = _Sampler(src, cfg, torch.Generator().manual_seed(5), SOLO, torch.device("cpu"))
    same = True
    for _ in range(steps):
        part, full = mine.next(bank), solo.next(bank)
        sizes = (cfg.batch_labeled, cfg.batch_labeled, cfg.batch_labeled, cfg.batch_unlabeled, cfg.batch_unlabeled)
        for p, f, n in zip(part, full, sizes):
            if p is None or f is None:
                same &= p is None and f is None
            else:
                same &= p.shape[0] == n // group.world_size and torch.equal(group.gather_rows(p.contiguous(), n), f)
    return bool(same)


def picks_and_outputs(group, bank, n: int) -> tuple[float, bool]:
    torch.manual_seed(3)
    student = create_student("small-cnn", 3, pretrained=False)
    positions = torch.randperm(n, generator=torch.Generator().manual_seed(1))
    pool, lab = positions[:-6], positions[-6:]
    spread = [predict(student, bank, p, device="cpu", bf16=False, progress=False, group=group) for p in (pool, lab)]
    alone = [predict(student, bank, p, device="cpu", bf16=False, progress=False) for p in (pool, lab)]
    diff = max(float((a - b).abs().max()) for s, o in zip(spread, alone) for a, b in ((s.ce, o.ce), (s.kd, o.kd), (s.features, o.features)))

    def picks(outs):
        (po, lo) = outs
        inputs = SelectionInputs([str(i) for i in pool.tolist()], po.ce, po.kd, po.features, [str(i) for i in lab.tolist()],
                                 lo.ce, lo.kd, lo.features, torch.arange(6) % 3)
        return select("pcoreset", inputs, 8, generator=torch.Generator().manual_seed(2), device="cpu")

    return diff, picks(spread) == picks(alone)


def main(out: str) -> None:
    group = join(torch.device("cpu"))
    images = np.random.default_rng(0).integers(0, 256, (61, 1, 28, 28), dtype=np.uint8)
    bank = ImageBank(ArraySource(images), "cpu")
    g = torch.Generator().manual_seed(0)
    src = TrainBatchSource(torch.arange(9), torch.arange(9) % 3, torch.arange(9, 61), torch.randn(9, 3, generator=g),
                           torch.randn(52, 3, generator=g))
    report = {"world_size": group.world_size, "rank_share": [group.shard(61).start, group.shard(61).stop],
              "draws_match": draws_match(group, bank, src, TrainConfig(batch_labeled=8, batch_unlabeled=6, augment=True), 12),
              "draws_match_ce_only": draws_match(group, bank, src, TrainConfig(kd="none", batch_labeled=4), 5)}
    report["max_output_diff"], report["same_picks"] = picks_and_outputs(group, bank, 61)
    if group.is_main:
        with open(out, "w") as f:
            json.dump(report, f)
    leave()


if __name__ == "__main__":
    main(sys.argv[1])
