"""Fault injection for end-to-end tests: a callback that SIGKILLs its own train.py process."""

import os
import signal

import lightning as L


class KillAtStep(L.Callback):
    """SIGKILL the process once ``step`` optimizer steps are done (after any checkpoint saved at that step)."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        # At the start of the next batch every callback (checkpoints included) has finished step ``step``.
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)
