"""Multi-process data-parallel training through PyTorch's own engine (torch.distributed).

Launch any training with ``torchrun --nproc_per_node=N -m sr_lib train ...`` (or a script that
builds a :class:`~sr_lib.train.Trainer`): torchrun sets ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``,
and the Trainer then joins the process group (NCCL on CUDA, gloo on CPU), wraps the model in
:class:`~torch.nn.parallel.DistributedDataParallel`, gives each rank its share of every global
batch, and lets rank 0 alone log and write checkpoints. Because a batch is a function of
``(seed, step)``, N processes with global batch B see exactly the patches one process with
batch B sees, so they end with the same weights (to float rounding).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import torch
import torch.distributed as dist

from .errors import SRLibError


def launched() -> bool:
    """True when this process was started by torchrun (or already joined a group) with N > 1."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size() > 1
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def is_main() -> bool:
    """Rank 0 (or a single process): the one that prints and writes files."""
    return rank() == 0


def setup(device: torch.device) -> torch.device:
    """Join the process group torchrun describes and return this rank's device.

    CUDA ranks get ``cuda:LOCAL_RANK`` and NCCL; CPU ranks use gloo. Safe to call twice."""
    if not dist.is_available():
        raise SRLibError("this torch build has no torch.distributed; run one process")
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        if local >= torch.cuda.device_count():
            raise SRLibError(f"rank with LOCAL_RANK={local} has no GPU (this machine has "
                             f"{torch.cuda.device_count()}); lower --nproc_per_node")
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def shard(batch_size: int) -> tuple[int, int]:
    """(first, count) of this rank's samples in a global batch of ``batch_size``."""
    n, r = world_size(), rank()
    if batch_size % n:
        raise SRLibError(f"the global batch of {batch_size} does not split over {n} processes; "
                         f"use a batch size that is a multiple of {n}")
    per = batch_size // n
    return r * per, per


def slice_batch(batch: dict, first: int, count: int) -> dict:
    """This rank's rows of a global batch (every tensor sliced along its first dimension)."""
    return {k: v[first:first + count] if torch.is_tensor(v) and v.dim() else v
            for k, v in batch.items()}


def average_gradients(params: Iterable[torch.nn.Parameter]) -> None:
    """All-reduce (mean) the gradients of parameters DistributedDataParallel does not manage
    (a hook's own modules, or a model run outside DDP by a hook's custom step)."""
    if world_size() == 1:
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world_size()
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def mean_over_ranks(value: torch.Tensor) -> torch.Tensor:
    """The mean of a tensor over all ranks (the value itself for one process)."""
    if world_size() == 1:
        return value
    value = value.clone()
    dist.all_reduce(value)
    return value / world_size()


def any_rank(flag: bool, device: torch.device) -> bool:
    """True on every rank when ``flag`` is true on at least one (e.g. a stop signal)."""
    if world_size() == 1:
        return flag
    box = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(box, op=dist.ReduceOp.MAX)
    return bool(box.item() > 0)


def cleanup() -> None:
    """Leave the process group (at the end of a torchrun'd command)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()


def broadcast_float(value: float | None) -> float:
    """Rank 0's number, on every rank (e.g. a validation score only rank 0 computed)."""
    if world_size() == 1:
        return float(value)
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return float(box[0])
