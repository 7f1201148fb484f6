"""Ctrl-C as a request to stop: :class:`StopOnInterrupt`."""

from __future__ import annotations

import signal
from types import FrameType

from ffnn.callbacks.base import Callback
from ffnn.network import Network
from ffnn.state import History


class StopOnInterrupt(Callback):
    """Ctrl-C (SIGINT) stops training after the current batch instead of killing it mid-update.

    Use as a context manager around ``fit``: the handler is installed on entry and the previous
    one restored on exit. A second Ctrl-C while stopping interrupts as usual.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: object = None

    def __enter__(self) -> StopOnInterrupt:
        self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGINT, self._previous)  # type: ignore[arg-type]

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def on_batch_end(self, network: Network, epoch: int, batch: int) -> bool:
        return self.requested

    def on_epoch_end(self, network: Network, history: History) -> bool:
        """Stop between two epochs as well; the run is still interrupted, not ended by itself, so
        ``history.interrupted`` is set here, before the checkpointer (which runs last) would mark
        the epoch's checkpoint finished."""
        if self.requested:
            history.interrupted = True
        return self.requested
