"""Data: one representation end to end — X float (n, features), y integer labels (n,)."""

from ffnn.data import toy

__all__ = ["toy"]
