"""The hook protocol of :func:`ffnn.fit`: :class:`Callback` declares every hook the loop calls.

Each hook is a no-op by default; a callback overrides the ones it needs. The loop calls them in
this order:

    bind(state)                          once, before training (the run's TrainingState)
    on_epoch_begin(network, epoch)       before each epoch
    on_batch_end(network, epoch, batch)  after each mini-batch; True stops at once, and the
                                         network goes back to the last complete epoch
    on_epoch_end(network, history)       after each epoch is recorded; True stops training
    on_train_end(network, history)       once, at the end (``history.interrupted`` says whether
                                         a batch callback stopped training mid-epoch)

A callback whose ``state_key`` is set keeps state across epochs: checkpoints save its
``state_dict()`` under that key and a resumed run gives it back through ``load_state_dict``.
A callback with ``runs_last = True`` (the checkpointer) is called after all the others, so the
state it saves includes theirs for that epoch.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ffnn.network import Network
from ffnn.state import History, TrainingState


class Callback:
    """The base of every callback: each hook declared, each doing nothing by default."""

    state_key: ClassVar[str | None] = None
    runs_last: ClassVar[bool] = False

    def bind(self, state: TrainingState) -> None:
        """Before training: the run's whole state (parameters, step, random generator, history)."""

    def on_epoch_begin(self, network: Network, epoch: int) -> None:
        """Before each epoch."""

    def on_batch_end(self, network: Network, epoch: int, batch: int) -> bool:
        """After each mini-batch; True stops at once, back to the last complete epoch."""
        return False

    def on_epoch_end(self, network: Network, history: History) -> bool:
        """After each epoch, once ``history`` holds it; True stops training."""
        return False

    def on_train_end(self, network: Network, history: History) -> None:
        """Once, when training ends, however it ends but by an exception (divergence raises one)."""

    def state_dict(self) -> Any:
        """The state a checkpoint keeps (only for a callback with a ``state_key``)."""
        return None

    def load_state_dict(self, state: Any) -> None:
        """Restore what :meth:`state_dict` returned."""
