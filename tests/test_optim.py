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


def test_warmup_then_cosine():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = warmup_cosine(opt, warmup_steps=10, total_steps=110, min_lr_ratio=0.1)
    lrs = []
    for _ in range(110):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[10] == pytest.approx(1.0)
    assert lrs[60] == pytest.approx(0.55, abs=0.01)  # halfway down the cosine
    assert lrs[-1] == pytest.approx(0.1, abs=0.01)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
