"""Randomness that a search owns, and a guard that keeps the process-global generators untouched.

A search draws every random number from two generators it holds, both seeded from its seed: a
NumPy :class:`~numpy.random.Generator` (sampling, mutation, tie-breaking, the seeds of its
predictors) and a CPU :class:`torch.Generator` (the controller's initial weights, batch order
and dropout masks). No part of a search reads or reseeds Python's ``random``, NumPy's legacy
global state or torch's default generator, so nothing else in the process -- an in-process
training evaluator, a cache hit that skips a training, a replayed study row, another search --
can shift a search's streams.

A torch generator seeded with ``s`` is in the very state ``torch.manual_seed(s)`` puts the
global one in, and the search draws from it in the order earlier versions drew from the global
generator, so trajectories recorded before the generators were owned are reproduced bit for bit.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch


def torch_generator(seed: int) -> torch.Generator:
    """A CPU generator in the state ``torch.manual_seed(seed)`` gives the global one."""
    return torch.Generator().manual_seed(int(seed))


@contextmanager
def drawing_from(generator: torch.Generator) -> Iterator[None]:
    """Run code that can only draw from torch's global CPU generator (a module constructor's
    default initialisation) on ``generator``'s stream instead.

    The global state is put back afterwards, and ``generator`` advances by exactly what the
    block drew, as if the block had been handed ``generator`` itself. Not for code that other
    threads run at the same moment: they would draw from the swapped-in state.
    """
    with torch.random.fork_rng(devices=[]):
        torch.set_rng_state(generator.get_state())
        yield
        generator.set_state(torch.get_rng_state())


@contextmanager
def global_rng_preserved() -> Iterator[None]:
    """Put Python's, NumPy's and torch's global random states back after the block.

    For code that must seed the global generators (a user's training function may rely on
    ``torch.manual_seed``): whatever it seeds or draws stays inside the block. torch's CUDA
    states are restored too when CUDA was initialised before the block; one first initialised
    inside it stays as the block left it (no search draws from it).
    """
    python_state = random.getstate()
    numpy_state = np.random.get_state()
    torch_state = torch.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        torch.set_rng_state(torch_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)


__all__ = ["drawing_from", "global_rng_preserved", "torch_generator"]
