"""Attention made visible: rollout, per-head maps, text matrices, the trace, the CLI and the callback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torchvision.io import decode_png, read_file, write_png

import vit_bert
from vit_bert.errors import ConfigError
from vit_bert.predict import Predictor
from vit_bert.tokenizer import TextTokenizer, train_wordpiece
from vit_bert.viz import attention_rollout, attention_view, cls_to_patches, explore, trace_layer, view_figure
from vit_bert.viz.__main__ import main as viz_main

from conftest import padded_batch

ROOT = Path(__file__).resolve().parent.parent


def random_attention(depth, batch, heads, length):
    return [torch.rand(batch, heads, length, length).softmax(dim=-1) for _ in range(depth)]


def test_rollout_rows_sum_to_one_and_follow_the_definition():
    layers = random_attention(3, 2, 4, 10)
    rollout = attention_rollout(layers)
    assert rollout.shape == (2, 10, 10)
    assert torch.allclose(rollout.sum(dim=-1), torch.ones(2, 10), atol=1e-5)
    step = [(a.mean(1) + torch.eye(10)) / (a.mean(1) + torch.eye(10)).sum(-1, keepdim=True) for a in layers]
    assert torch.allclose(rollout, step[2] @ step[1] @ step[0], atol=1e-6)


def test_cls_map_has_the_patch_grid_shape():
    weights = torch.rand(3, 1 + 6 * 4, 1 + 6 * 4)
    maps = cls_to_patches(weights, (6, 4), num_prefix_tokens=1)
    assert maps.shape == (3, 6, 4)
    assert torch.equal(maps[1, 2], weights[1, 0, 1 + 2 * 4 : 1 + 3 * 4])


def test_image_view_and_figure():
    model = vit_bert.build_model("vit-ti/16", img_size=64, depth=2, num_classes=3)
    view = attention_view(model, {"images": torch.randn(2, 3, 64, 64)}, index=1)
    assert view.grid == (4, 4) and len(view.attentions) == 2 and view.attentions[0].shape == (3, 17, 17)
    assert torch.allclose(view.rollout().sum(-1), torch.ones(17), atol=1e-5)
    figure = view_figure(view, -1, "t", image=torch.rand(64, 64, 3).numpy())
    assert len(figure.axes) == 2 + 3  # input, rollout, one map per head


def test_text_view_keeps_real_tokens_and_padding_gets_no_attention():
    model = vit_bert.build_model("bert-tiny", vocab_size=50, num_classes=2)
    ids, mask = padded_batch(50, [9, 5])
    _, full = model.eval()(input_ids=ids, attention_mask=mask, return_attention=True)
    assert float(full[0][1, :, :, 5:].abs().max()) == 0.0  # the model gives padded keys weight 0
    view = attention_view(model, {"input_ids": ids, "attention_mask": mask}, index=1)
    assert view.token_ids == ids[1, :5].tolist()
    assert view.attentions[1].shape == (2, 5, 5)
    assert torch.allclose(view.attentions[1].sum(-1), torch.ones(2, 5), atol=1e-5)
    assert torch.allclose(view.attentions[1], full[1][1, :, :5, :5])


def test_the_text_figure_names_token_0_as_the_tokenizer_does():
    """RoBERTa's first token is <s>, not [CLS]."""
    from vit_bert.viz.figures import text_figure

    weights = torch.full((2, 3, 3), 1 / 3)
    figure = text_figure(["<s>", "Ġgood", "</s>"], weights, weights.mean(0)[0], layer=1, title="t")
    assert figure.axes[-1].get_title().startswith("<s> (token 0) attention over the tokens, layer 1")


@pytest.mark.parametrize("preset, kwargs", [("vit-ti/16", {"img_size": 32, "depth": 2}), ("bert-tiny", {"vocab_size": 50})])
def test_trace_equals_the_models_forward(preset, kwargs):
    model = vit_bert.build_model(preset, **kwargs)
    if model.modality == "image":
        batch = {"images": torch.randn(2, 3, 32, 32)}
    else:
        ids, mask = padded_batch(50, [7, 4])
        batch = {"input_ids": ids, "attention_mask": mask}
    lines = []
    traced = trace_layer(model, batch, layer=1, head=1, index=1, out=lines.append)
    _, attentions = model.eval()(**batch, return_attention=True)
    real = batch["attention_mask"][1].bool() if "attention_mask" in batch else slice(None)
    assert torch.allclose(traced["weights"][real], attentions[1][1, 1][real], atol=1e-6)
    assert traced["difference"] <= 1e-5
    assert torch.allclose(traced["layer_output"], traced["model_layer_output"], atol=1e-5)
    d = model.config.dim // model.config.heads
    assert traced["W_Q"].shape == (model.config.dim, d) and traced["scores"].shape == traced["weights"].shape
    assert any("softmax(scores / sqrt(" in line for line in lines)


def test_trace_detects_a_wrong_computation(monkeypatch):
    model = vit_bert.build_model("bert-tiny", vocab_size=50)
    ids, mask = padded_batch(50, [6])
    monkeypatch.setattr(model.encoder.blocks[0].attn, "scale", 1.0)  # the model's forward now differs from sqrt(d)
    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", lambda q, k, v, **kw: (q @ k.transpose(-2, -1)).softmax(-1) @ v)
    with pytest.raises(AssertionError, match="differs from the model's forward"):
        trace_layer(model, {"input_ids": ids, "attention_mask": mask}, layer=0, out=lambda _: None)



@pytest.mark.parametrize("preset, kwargs, said", [
    ("bert-tiny", {"vocab_size": 50}, "[CLS] vector (token 0 of the encoder's output, what the head classifies)"),
    ("modern-mini", {"vocab_size": 50, "depth": 2}, "[CLS] vector (token 0 of the encoder's output, one of the tokens the head's 'mean' pooling reads)"),
    ("bert-tiny", {"vocab_size": 50, "head": "mlm"}, "[CLS] vector (token 0 of the encoder's output; the 'mlm' head reads every token, not this one alone)"),
    ("vit-ti/16", {"img_size": 32, "depth": 2, "class_token": False, "pool": "mean"},
     "token 0's vector (this model has no [CLS]) (token 0 of the encoder's output, one of the tokens the head's 'mean' pooling reads)"),
])
def test_the_trace_says_what_the_head_reads_of_token_0(preset, kwargs, said):
    model = vit_bert.build_model(preset, **kwargs)
    batch = {"images": torch.randn(1, 3, 32, 32)} if model.modality == "image" else dict(zip(("input_ids", "attention_mask"), padded_batch(50, [6])))
    lines = []
    trace_layer(model, batch, layer=0, out=lines.append)
    assert lines[-1].strip().startswith(said)


def test_a_masked_token_model_is_drawn_and_explored_though_it_predicts_nothing(tmp_path, capsys):
    tokenizer = train_wordpiece(["a good film", "a bad film", "the plot was dull"] * 5, vocab_size=60)
    vit_bert.build_model("bert-tiny", head="mlm", vocab_size=tokenizer.get_vocab_size()).save_pretrained(tmp_path / "mlm", tokenizer=tokenizer)
    source = str(tmp_path / "mlm")
    viz_main([source, "a good film", "--out", str(tmp_path / "mlm.png"), "--trace"])
    out = capsys.readouterr().out
    assert "masked-token model (no class prediction); wrote" in out and "the 'mlm' head reads every token" in out
    assert png_size(tmp_path / "mlm.png")[0] in (3, 4)
    [panel] = explore(source, "a good film").panels
    assert panel["prediction"] is None and panel["tokens"] == ["[CLS]", "a", "good", "film", "[SEP]"]
    viz_main([source, "a good film", "a bad film", "--html", str(tmp_path / "mlm.html")])
    assert (tmp_path / "mlm.html").stat().st_size > 10_000
    with pytest.raises(ConfigError, match="is a masked-token model"):  # predicting still needs a classifier
        Predictor(source)
    write_png(torch.randint(0, 255, (3, 32, 32), dtype=torch.uint8), str(tmp_path / "photo.png"))
    masked_patches = vit_bert.build_model("vit-ti/16", head="pixels", img_size=32, patch_size=8, depth=2)
    [panel] = explore(masked_patches, tmp_path / "photo.png", mean=[0.5] * 3, std=[0.5] * 3).panels
    assert panel["prediction"] is None and panel["grid"] == [4, 4]

def png_size(path):
    image = decode_png(read_file(str(path)))
    return tuple(image.shape)


def viz(*args, cwd):
    return subprocess.run([sys.executable, "-m", "vit_bert.viz", *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.mark.slow
def test_cli_writes_an_image_figure_and_a_text_figure_with_trace(tmp_path):
    write_png(torch.randint(0, 255, (3, 40, 48), dtype=torch.uint8), str(tmp_path / "photo.png"))
    result = viz("vit-ti/16", "photo.png", "--out", "img.png", "--dpi", "50", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "predicted " in result.stdout
    channels, height, width = png_size(tmp_path / "img.png")
    assert channels in (3, 4) and (height, width) == (190, 270)  # vit-ti has 3 heads: 2 rows (input + rollout, heads) x 3 columns

    texts = ["a good film", "a bad film", "the plot was dull"]
    tokenizer = train_wordpiece(texts, vocab_size=60)
    model = vit_bert.build_model("bert-tiny", vocab_size=tokenizer.get_vocab_size())
    model.save_pretrained(tmp_path / "bert", tokenizer=tokenizer, class_names=["neg", "pos"])
    result = viz(str(tmp_path / "bert"), "the film was good", "--out", "txt.png", "--trace", "--head", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "head 1 of 2" in result.stdout and "max |difference|" in result.stdout
    assert "[CLS]" in result.stdout and ("predicted neg" in result.stdout or "predicted pos" in result.stdout)
    assert png_size(tmp_path / "txt.png")[0] in (3, 4)
    assert TextTokenizer(tokenizer).encode(["the film was good"])[0][0][0] == tokenizer.token_to_id("[CLS]")

    bad = viz("vit-ti/16", "missing.png", cwd=tmp_path)
    assert bad.returncode == 2 and "missing.png does not exist" in bad.stderr and "Traceback" not in bad.stderr
