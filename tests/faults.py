"""Fault injection for end-to-end tests: callbacks that kill or stop their own train.py run at a chosen moment."""

import os
import signal

import lightning as L


def _send(name: str, group: bool) -> None:
    sig = getattr(signal, name)
    if group:  # every rank of a DDP run (the test starts train.py in a session of its own)
        os.killpg(os.getpgid(0), sig)
    else:
        os.kill(os.getpid(), sig)


class KillAtStep(L.Callback):
    """Send ``signal`` (SIGKILL by default) once ``step`` optimizer steps are done (after any checkpoint saved at that step)."""

    def __init__(self, step: int, signal: str = "SIGKILL", group: bool = False):
        self.step, self.signal, self.group = step, signal, group

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        # At the start of the next batch every callback (checkpoints included) has finished step ``step``.
        if trainer.global_step == self.step and (trainer.is_global_zero or not self.group):
            _send(self.signal, self.group)


class KillInValidation(L.Callback):
    """SIGKILL the process in the middle of the first validation after ``step`` optimizer steps."""

    def __init__(self, step: int):
        self.step = step

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0) -> None:
        if not trainer.sanity_checking and trainer.global_step >= self.step and batch_idx == 1:
            _send("SIGKILL", group=False)
