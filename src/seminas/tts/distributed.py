"""Data-parallel training of the TTS supernet or network on several GPUs (or CPU processes)
under ``torchrun``, with the process group of the MobileNet pipeline
(:func:`seminas.supernet.train.init_distributed`).

Every rank holds the same trainer seed, so all ranks draw the same path at each step; each rank
takes its own batches (position ``rank`` of every ``world`` consecutive ones), and the
gradients are averaged before the update. Gradients of the ops off the path are absent on every
rank alike, so they are left absent and those weights are not updated, as on one device.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn


def average_gradients(model: nn.Module) -> None:
    """All-reduce every present gradient to the mean over the ranks."""
    if not (dist.is_available() and dist.is_initialized()):
        return
    world = dist.get_world_size()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset : offset + n].view_as(g))
        offset += n
