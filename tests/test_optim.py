import pytest
import torch

from vit_bert import build_model
from vit_bert.training.optim import param_groups, warmup_cosine


@pytest.mark.parametrize("name", ["vit-cifar/4", "bert-tiny"])
def test_weight_decay_only_on_weight_matrices(name):
    model = build_model(name, depth=1)
    decay, no_decay = param_groups(model, 0.05)
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = {names[id(p)] for p in decay["params"]}
    plain = {names[id(p)] for p in no_decay["params"]}
    assert decay["weight_decay"] == 0.05 and no_decay["weight_decay"] == 0.0
    assert all(n.endswith("weight") for n in decayed)
    assert not any("norm" in n or "bias" in n or "pos_embed" in n or "cls_token" in n or "position_embeddings" in n for n in decayed)
    assert "encoder.blocks.0.attn.qkv.weight" in decayed
    assert len(decayed) + len(plain) == len(list(model.parameters()))


def run_schedule(steps, **kwargs):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = warmup_cosine(opt, **kwargs)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


def test_warmup_then_cosine():
    lrs = run_schedule(100, total_steps=100, warmup_fraction=0.1, min_lr_ratio=0.1)
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[54] == pytest.approx(0.55, abs=0.01)  # halfway down the cosine
    assert lrs[-1] == pytest.approx(0.1, abs=0.01)
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:]))


def test_time_budget_drives_the_schedule_when_it_is_further_along():
    clock = iter([i / 20 for i in range(100)])  # the budget runs out after 20 steps of a 1000-step plan
    lrs = run_schedule(21, total_steps=1000, warmup_fraction=0.1, min_lr_ratio=0.0, time_fraction=lambda: next(clock))
    assert lrs[2] == pytest.approx(1.0)  # warmup done at 10% of the time
    assert lrs[-1] == pytest.approx(0.0, abs=1e-6)  # fully annealed when time is up


def test_parameters_under_a_prefix_get_their_own_learning_rate():
    model = build_model("bert-tiny", depth=1)
    groups = param_groups(model, 0.05, {"frontend.": 0.01})
    names = {id(p): n for n, p in model.named_parameters()}
    by_lr = {}
    for group in groups:
        by_lr.setdefault(group.get("lr"), set()).update(names[id(p)] for p in group["params"])
    assert set(by_lr) == {None, 0.01}
    assert by_lr[0.01] == {n for n in names.values() if n.startswith("frontend.")}
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    fast = [g for g in groups if g.get("lr") == 0.01]
    assert sorted(g["weight_decay"] for g in fast) == [0.0, 0.05]  # word embeddings decay, LayerNorm does not
