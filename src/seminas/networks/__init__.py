"""Trainable PyTorch networks for the cells of each search space.

:func:`build_network` turns an architecture into an ``nn.Module``. Every space has two named
sizes: ``standard`` (the benchmark's own network, e.g. 128 channels and 3 x 3 cells for
NAS-Bench-101) and ``cpu`` (narrow and shallow, so that a 2-epoch training of a CIFAR subset
takes tens of seconds on one CPU core). ``channels`` and ``cells`` override either.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from seminas.errors import SeminasError

SIZES = ("cpu", "standard")


def network_settings(
    space: str, size: str = "cpu", channels: int | None = None, cells: int | None = None
) -> dict[str, int]:
    """The width/depth keyword arguments of ``space``'s network for a named size."""
    if size not in SIZES:
        raise SeminasError(f"unknown network size {size!r}: choose {' or '.join(SIZES)}")
    if space == "nb201":
        from seminas.networks import nb201 as mod

        width_key, depth_key = "channels", "cells_per_stage"
    elif space == "nb101":
        from seminas.networks import nb101 as mod  # type: ignore[no-redef]

        width_key, depth_key = "stem_channels", "cells_per_stack"
    else:
        raise SeminasError(f"no trainable network for search space {space!r} (nb201, nb101)")
    settings = dict(mod.STANDARD if size == "standard" else mod.CPU_SCALE)
    for key, value, what in ((width_key, channels, "channels"), (depth_key, cells, "cells")):
        if value is not None:
            if int(value) < 1:
                raise SeminasError(f"network {what} must be at least 1, got {value}")
            settings[key] = int(value)
    return settings


def build_network(
    space: str,
    arch: Any,
    size: str = "cpu",
    channels: int | None = None,
    cells: int | None = None,
    num_classes: int = 10,
    in_channels: int = 3,
) -> nn.Module:
    """The network of ``arch`` (a cell of ``space``) with the given size."""
    settings = network_settings(space, size, channels, cells)
    if space == "nb201":
        from seminas.networks.nb201 import NB201Network

        return NB201Network(arch, num_classes=num_classes, in_channels=in_channels, **settings)
    from seminas.networks.nb101 import NB101Network

    return NB101Network(arch, num_classes=num_classes, in_channels=in_channels, **settings)


__all__ = ["SIZES", "build_network", "network_settings"]
