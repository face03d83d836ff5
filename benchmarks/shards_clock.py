"""A callback for benchmarks/shards.py: when the first step starts, and real tokens or samples per second after warm-up.

Reads SHARDS_CLOCK_START (the time the command was started) and writes SHARDS_CLOCK_OUT (JSON) when training ends, on
rank 0; samples count every rank's (the batch size times the world size).
"""

from __future__ import annotations

import json
import os
import resource
import time

import lightning as L

WARM = 5  # steps left out of the rates: loader start-up, first allocations


class Clock(L.Callback):
    def __init__(self):
        self.first_step_s = None
        self.start = None
        self.tokens = self.samples = 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self.first_step_s is None:
            self.first_step_s = time.time() - float(os.environ.get("SHARDS_CLOCK_START", time.time()))
        if trainer.global_step == WARM:
            self.start = time.perf_counter()
        if trainer.global_step >= WARM:
            self.samples += len(batch["labels"]) * trainer.world_size
            if "attention_mask" in batch:
                self.tokens += int(batch["attention_mask"].sum()) * trainer.world_size

    def on_train_end(self, trainer, pl_module):
        if not trainer.is_global_zero or self.start is None or "SHARDS_CLOCK_OUT" not in os.environ:
            return
        seconds = time.perf_counter() - self.start
        result = {"first_step_s": round(self.first_step_s, 1), "samples_per_s": round(self.samples / seconds, 1),
                  "rank0_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}
        if self.tokens:
            result["real_tokens_per_s"] = round(self.tokens / seconds)
        with open(os.environ["SHARDS_CLOCK_OUT"], "w") as f:
            json.dump(result, f)
