"""Trainable PyTorch networks for the cells of each search space.

:func:`build_network` turns an architecture into an ``nn.Module``. Every space has two named
sizes: ``standard`` (the benchmark's own network, e.g. 128 channels and 3 x 3 cells for
NAS-Bench-101) and ``cpu`` (narrow and shallow, so that a 2-epoch training of a CIFAR subset
takes tens of seconds on one CPU core). ``channels`` and ``cells`` override either. Each space's
builder and sizes come from its registry entry (:class:`seminas.registry.NetworkEntry`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from seminas.errors import SeminasError
from seminas.registry import NetworkEntry, resolve, space_entry, space_names_where

SIZES = ("cpu", "standard")


def network_settings(
    space: str, size: str = "cpu", channels: int | None = None, cells: int | None = None
) -> dict[str, int]:
    """The width/depth keyword arguments of ``space``'s network for a named size."""
    if size not in SIZES:
        raise SeminasError(f"unknown network size {size!r}: choose {' or '.join(SIZES)}")
    network = _network(space)
    settings = network.settings(size)
    overrides = ((network.width, channels, "channels"), (network.depth, cells, "cells"))
    for key, value, what in overrides:
        if value is not None:
            if int(value) < 1:
                raise SeminasError(f"network {what} must be at least 1, got {value}")
            settings[key] = int(value)
    return settings


def _network(space: str) -> NetworkEntry:
    """The space's network entry (:class:`seminas.registry.NetworkEntry`)."""
    try:
        network = space_entry(space).network
    except SeminasError:  # an unknown name: say what can be trained
        network = None
    if network is None:
        trainable = space_names_where(lambda e: e.network is not None)
        raise SeminasError(
            f"no trainable network for search space {space!r} ({', '.join(trainable)})"
        )
    return network


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
    return build_with(space, arch, settings, num_classes, in_channels)


def build_with(
    space: str,
    arch: Any,
    settings: Mapping[str, int],
    num_classes: int = 10,
    in_channels: int = 3,
) -> nn.Module:
    """The network of ``arch`` with explicit width/depth ``settings`` (the space's builder)."""
    build = resolve(_network(space).build)
    return build(arch, num_classes=num_classes, in_channels=in_channels, **settings)


__all__ = ["SIZES", "build_network", "build_with", "network_settings"]
