"""Moved to :mod:`seminas.lifecycle` (process lifecycle is below every layer that starts
processes); this name stays for code written against it."""

from seminas.lifecycle import *  # noqa: F401,F403
