"""The resumable training order: a permutation per (seed, epoch), split over ranks, continued where a run stopped."""

import logging
import random

import numpy as np
import torch

from vit_bert.data import ImageDataModule
from vit_bert.data.resumable import ResumableSampler
from vit_bert.training.resume import collect_random_state, restore_random_state


def test_each_epoch_has_its_own_fixed_order_and_ranks_split_it():
    sampler = ResumableSampler(range(10), seed=3)
    first = list(sampler)
    assert sorted(first) == list(range(10)) and list(sampler) == first
    sampler.set_epoch(1)
    assert list(sampler) != first and sorted(sampler) == list(range(10))
    ranks = [list(ResumableSampler(range(10), seed=3, num_replicas=2, rank=r)) for r in (0, 1)]
    assert sorted(ranks[0] + ranks[1]) == list(range(10)) and not set(ranks[0]) & set(ranks[1])


def test_resume_skips_what_the_interrupted_epoch_consumed_in_that_epoch_only():
    order = list(ResumableSampler(range(12), seed=0))
    sampler = ResumableSampler(range(12), seed=0)
    sampler.resume(epoch=0, consumed=5)
    assert list(sampler) == order[5:] and sampler.consumed == 5
    sampler.set_epoch(1)
    assert len(list(sampler)) == 12 and sampler.consumed == 0


def digits(**kwargs):
    dm = ImageDataModule("digits", batch_size=64, **kwargs)
    dm.setup("fit")
    return dm


def test_the_data_module_counts_consumed_samples_and_resumes_from_its_state(monkeypatch):
    monkeypatch.setenv("PL_GLOBAL_SEED", "0")
    dm = digits()
    loader = dm.train_dataloader()
    batches = iter(loader)
    for _ in range(3):
        dm.train_sampler.consumed += len(next(batches)["labels"])  # what on_after_batch_transfer counts in training
    state = dm.state_dict()
    assert (state["epoch"], state["consumed"]) == (0, 192)
    again = digits()
    again.load_state_dict(state)
    rest = list(again.train_dataloader())
    expected = list(batches)
    assert len(rest) == len(expected) and all(torch.equal(a["labels"], b["labels"]) for a, b in zip(rest, expected))


def test_a_resume_that_cannot_be_exact_says_what_differs(monkeypatch, caplog):
    monkeypatch.setenv("PL_GLOBAL_SEED", "0")
    dm = digits()
    dm.train_dataloader()
    state = {**dm.state_dict(), "consumed": 128}
    other = ImageDataModule("digits", batch_size=32)
    other.setup("fit")
    other.load_state_dict(state)
    monkeypatch.setenv("PL_GLOBAL_SEED", "1")
    with caplog.at_level(logging.WARNING):
        other.train_dataloader()
    assert "resuming with another seed_everything (0 -> 1), data.batch_size (64 -> 32)" in caplog.text
    assert other.train_sampler.consumed == 0 and len(list(other.train_sampler)) == len(other.splits["train"])  # the epoch afresh


def test_random_state_round_trips_through_plain_tensors():
    state = collect_random_state()
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.rand(5), np.random.rand(5), random.random()
    restore_random_state(state)
    again = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(again[0], expected[0]) and np.array_equal(again[1], expected[1]) and again[2] == expected[2]
