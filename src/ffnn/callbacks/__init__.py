"""Callbacks for :func:`ffnn.fit`: what a run shows and keeps, outside the training loop.

One job a module, each re-exported here (``from ffnn.callbacks import X``):

    base            the hook protocol: :class:`Callback` declares every hook, in the loop's order
    printing        :class:`PrintProgress`, :class:`ProgressBar` (tqdm), :class:`EpochTable`
    metrics_log     the ``metrics.csv`` schema (:func:`metrics_columns`), its writer :class:`MetricsLog`,
                    its reader :func:`~ffnn.callbacks.metrics_log.read_metrics`
    early_stopping  :class:`EarlyStopping`
    interrupt       :class:`StopOnInterrupt` (Ctrl-C stops after the current batch)
    probes          per-epoch probes: :class:`GradientNorms` (:func:`gradient_sizes`), :class:`TrainingAccuracy`

The RMS gradient of one weight, ‖∂C/∂w^l‖ / √(n_l n_{l−1}), is math: :func:`ffnn.metrics.rms_sizes`,
re-exported here as ``rms_sizes``.
"""

from ffnn.callbacks.base import Callback
from ffnn.callbacks.early_stopping import EarlyStopping
from ffnn.callbacks.interrupt import StopOnInterrupt
from ffnn.callbacks.metrics_log import MetricsLog, metrics_columns
from ffnn.callbacks.printing import EpochTable, PrintProgress, ProgressBar
from ffnn.callbacks.probes import GradientNorms, TrainingAccuracy, gradient_sizes
from ffnn.metrics import rms_sizes

__all__ = [
    "Callback",
    "EarlyStopping",
    "EpochTable",
    "GradientNorms",
    "MetricsLog",
    "PrintProgress",
    "ProgressBar",
    "StopOnInterrupt",
    "TrainingAccuracy",
    "gradient_sizes",
    "metrics_columns",
    "rms_sizes",
]
