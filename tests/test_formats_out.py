"""timm and transformers formats out: ``save_pretrained(dir, format=...)`` and ``vit-bert export --format``. Each folder
loads in its library and computes the same function, and vit_bert reads it back to the same weights (round trips)."""

import dataclasses
import json

import pytest
import timm
import torch

import vit_bert
from vit_bert.errors import ConfigError
from vit_bert.export import export

transformers = pytest.importorskip("transformers")
IMAGES = {  # preset -> overrides: every ViT family vit_bert has, small (EVA-02 and DINOv3: timm's Eva)
    "vit-s/16": dict(depth=2, img_size=32, num_classes=3), "deit-ti/16-distilled": dict(depth=2, img_size=32, num_classes=3),
    "clip-b/16": dict(depth=2, img_size=32, dim=64, heads=4), "siglip-b/16": dict(depth=2, img_size=32, dim=64, heads=4),
    "dinov2-s/14-reg4": dict(depth=2, img_size=28), "deit3-s/16": dict(depth=2, img_size=32),
    "eva02-ti/14": dict(depth=2, img_size=28, num_classes=3), "dinov3-s/16": dict(depth=2, img_size=32, num_classes=3),
}


def jittered(model):
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)  # off the initial values: ones and zeros would hide a swapped tensor
        config = getattr(model, "config", None)
        if isinstance(config, vit_bert.ModelConfig) and config.qkv_bias and not config.k_bias:  # key rows that compute nothing (k_bias=False) are written as zeros
            for block in model.encoder.blocks:
                block.attn.qkv.bias[config.dim: 2 * config.dim] = 0
    return model.eval()


def same_weights(a, b):
    return a.state_dict().keys() == b.state_dict().keys() and all(torch.equal(x, b.state_dict()[k]) for k, x in a.state_dict().items())


@pytest.mark.parametrize("preset", list(IMAGES))
def test_image_models_leave_as_timm_models_computing_the_same_function(tmp_path, preset):
    model = jittered(vit_bert.build_model(preset, **IMAGES[preset]))
    model.save_pretrained(tmp_path / "timm", format="timm")
    theirs = timm.create_model(f"local-dir:{tmp_path / 'timm'}", pretrained=True).eval()
    images = torch.randn(2, 3, model.config.img_size, model.config.img_size)
    with torch.no_grad():
        assert (theirs(images) - model(images)).abs().max() < 1e-5
        assert (theirs.forward_features(images) - model.forward_features(images)).abs().max() < 1e-5
    assert same_weights(vit_bert.load_pretrained(tmp_path / "timm").eval(), model)


def test_a_vit_s16_preset_leaves_as_vit_small_with_its_data_contract_and_labels(tmp_path):
    from vit_bert.config import DataContract

    model = jittered(vit_bert.build_model("vit-s/16", num_classes=2, img_size=64))  # vit_small_patch16_224's weights, at 64 px
    model.set_data_contract(DataContract("image", ["cat", "dog"], img_size=64, in_chans=3, mean=[0.5] * 3, std=[0.25] * 3, crop_pct=0.9,
                                         interpolation="bicubic"))
    model.save_pretrained(tmp_path / "out", format="timm")
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["architecture"] == "vit_small_patch16_224" and config["label_names"] == ["cat", "dog"]
    theirs = timm.create_model(f"local-dir:{tmp_path / 'out'}", pretrained=True)
    data = timm.data.resolve_data_config({}, model=theirs)
    assert (tuple(data["mean"]), tuple(data["std"]), data["crop_pct"], data["interpolation"]) == ((0.5,) * 3, (0.25,) * 3, 0.9, "bicubic")
    back = vit_bert.load_pretrained(tmp_path / "out")
    assert back.class_names == ["cat", "dog"] and back.data_contract.crop_pct == 0.9 and back.data_contract.std == [0.25] * 3


def test_weights_read_from_timm_and_transformers_go_back_to_timm(tmp_path):
    source = jittered(timm.create_model("vit_small_patch14_reg4_dinov2", pretrained=False, depth=2, img_size=28))
    vit_bert.load_pretrained(source).save_pretrained(tmp_path / "dinov2", format="timm")
    again = timm.create_model(f"local-dir:{tmp_path / 'dinov2'}", pretrained=True).eval()
    assert same_weights(again, source)
    hf = jittered(transformers.CLIPVisionModel(transformers.CLIPVisionConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                                                              intermediate_size=128, image_size=32, patch_size=8)))
    hf.save_pretrained(tmp_path / "clip")
    vit_bert.load_pretrained(tmp_path / "clip").save_pretrained(tmp_path / "clip-timm", format="timm")
    theirs = timm.create_model(f"local-dir:{tmp_path / 'clip-timm'}", pretrained=True).eval()
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():  # timm's CLIP tower: every token after post_layernorm
        expected = hf(pixel_values=images)
        tower = getattr(hf, "vision_model", hf)
        assert (theirs.forward_features(images) - tower.post_layernorm(expected.last_hidden_state)).abs().max() < 1e-5


def test_what_timm_cannot_express_stops_with_one_line(tmp_path):
    cases = {"bert-mini": "timm has no text models; save it with format='transformers'",
             "eva02-ti/14": r"timm's Eva biases queries and values only; this model has a key bias \(k_bias=True\)"}
    for preset, message in cases.items():
        with pytest.raises(ConfigError, match=message):
            vit_bert.build_model(preset, depth=1, **({"k_bias": True} if preset.startswith("eva") else {})).save_pretrained(tmp_path / preset.replace("/", "_"), format="timm")
    with pytest.raises(ConfigError, match="conv stem has no counterpart"):
        vit_bert.build_model("vit-cifar/4", stem="conv", depth=1).save_pretrained(tmp_path / "conv", format="timm")
    with pytest.raises(ConfigError, match=r"format='keras': expected 'vit_bert' or one of 'timm', 'transformers'"):
        vit_bert.build_model("vit-cifar/4", depth=1).save_pretrained(tmp_path / "k", format="keras")
    assert not any(tmp_path.iterdir())  # nothing written


TEXT = {  # (preset, overrides) -> the transformers class the folder names
    ("bert-mini", "classifier"): (dict(vocab_size=60, num_classes=3), "BertForSequenceClassification"),
    ("bert-mini", "pooler"): (dict(vocab_size=60, num_classes=0, head_pooler=True), "BertModel"),
    ("bert-mini", "mlm"): (dict(vocab_size=60, head="mlm"), "BertForMaskedLM"),
    ("roberta-base", "classifier"): (dict(vocab_size=60, dim=64, heads=4, depth=2, num_classes=2), "RobertaForSequenceClassification"),
    ("roberta-base", "mlm"): (dict(vocab_size=60, dim=64, heads=4, depth=2, head="mlm"), "RobertaForMaskedLM"),
    ("electra-small", "classifier"): (dict(vocab_size=60, depth=2, num_classes=2, head_pooler=True), "ElectraForSequenceClassification"),
    ("electra-small", "mlm"): (dict(vocab_size=60, depth=2, head="mlm"), "ElectraForMaskedLM"),
    ("distilbert-base", "classifier"): (dict(vocab_size=60, dim=64, heads=4, depth=2, num_classes=2, head_pooler=True),
                                        "DistilBertForSequenceClassification"),
    ("distilbert-base", "mlm"): (dict(vocab_size=60, dim=64, heads=4, depth=2, head="mlm"), "DistilBertForMaskedLM"),
    ("modern-mini", "classifier"): (dict(vocab_size=60, num_classes=3, head_pooler=True), "ModernBertForSequenceClassification"),
    ("modern-mini", "mlm"): (dict(vocab_size=60, head="mlm"), "ModernBertForMaskedLM"),
    ("modernbert-base", "local"): (dict(vocab_size=60, pad_token_id=0, dim=64, heads=4, depth=3, mlp_hidden=96, local_window=4, num_classes=2,
                                        head_pooler=True, rope_local_theta=500.0), "ModernBertForSequenceClassification"),
}


@pytest.mark.parametrize("case", list(TEXT), ids="-".join)
def test_text_models_leave_as_transformers_models_computing_the_same_function(tmp_path, case):
    overrides, architecture = TEXT[case]
    model = jittered(vit_bert.build_model(case[0], **overrides))
    model.save_pretrained(tmp_path / "hf", format="transformers")
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["architectures"] == [architecture]
    theirs = getattr(transformers, architecture).from_pretrained(tmp_path / "hf").eval()
    ids = torch.randint(5, 60, (2, 12))
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0
    with torch.no_grad():
        out, ours = theirs(input_ids=ids, attention_mask=mask), model(ids, attention_mask=mask)
        expected = out.logits if hasattr(out, "logits") else out.pooler_output
        if model.config.head == "mlm":
            ours, expected = ours[mask.bool()], expected[mask.bool()]
        assert (ours - expected).abs().max() < 1e-5
    back = vit_bert.load_pretrained(tmp_path / "hf", **({"head": "mlm"} if model.config.head == "mlm" else {}))
    assert same_weights(back, model)


def test_a_trained_text_models_tokenizer_and_labels_go_with_it(tmp_path):
    from vit_bert.config import DataContract
    from vit_bert.tokenizer import TextTokenizer, train_wordpiece

    tokenizer = train_wordpiece(["a fine film", "a dull film", "fine acting, dull plot"] * 20, vocab_size=60)
    model = jittered(vit_bert.build_model("bert-mini", vocab_size=tokenizer.get_vocab_size(), num_classes=2))
    model.set_data_contract(DataContract("text", ["neg", "pos"], vocab_size=tokenizer.get_vocab_size(), max_length=16, pad_token_id=0, tokenizer=tokenizer.to_str()))
    export_dir = tmp_path / "hf"
    model.save_pretrained(export_dir, format="transformers")
    theirs = transformers.AutoModelForSequenceClassification.from_pretrained(export_dir).eval()
    assert theirs.config.id2label == {0: "neg", 1: "pos"}
    texts = ["a fine film", "dull plot, fine acting"]
    batch = transformers.AutoTokenizer.from_pretrained(export_dir)(texts, padding=True, return_tensors="pt")
    encoder = TextTokenizer(tokenizer, max_length=16)
    ours = encoder.collate(encoder.encode(texts)[0])
    assert batch["input_ids"].tolist() == ours["input_ids"].tolist()
    with torch.no_grad():
        assert (theirs(**batch).logits - model(ours["input_ids"], attention_mask=ours["attention_mask"])).abs().max() < 1e-5


def test_image_models_leave_as_transformers_vits_with_their_processor(tmp_path):
    from vit_bert.config import DataContract

    model = jittered(vit_bert.build_model("vit-s/16", depth=2, img_size=32, num_classes=3))
    model.set_data_contract(DataContract("image", ["ant", "bee", "cat"], img_size=32, in_chans=3, mean=[0.4, 0.5, 0.6], std=[0.2, 0.2, 0.2],
                                         crop_pct=0.875, interpolation="bicubic"))
    model.save_pretrained(tmp_path / "vit", format="transformers")
    theirs = transformers.AutoModelForImageClassification.from_pretrained(tmp_path / "vit").eval()
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert (theirs(pixel_values=images).logits - model(images)).abs().max() < 1e-5
    assert theirs.config.id2label == {0: "ant", 1: "bee", 2: "cat"}
    back = vit_bert.load_pretrained(tmp_path / "vit")
    assert same_weights(back, model) and dataclasses.replace(back.data_contract, crop_pct=0.875) == model.data_contract
    assert int(32 / back.data_contract.crop_pct) == int(32 / 0.875) == 36  # the same resize: the processor stores whole sizes


HF_IMAGES = {  # preset -> (overrides, the transformers class written): every image family transformers has
    "deit-ti/16-distilled": (dict(depth=2, img_size=32, num_classes=3), "DeiTForImageClassificationWithTeacher"),
    "dinov2-s/14": (dict(depth=2, img_size=28, dim=64, heads=4), "Dinov2Model"),
    "dinov2-s/14-reg4": (dict(depth=2, img_size=28, dim=64, heads=4), "Dinov2WithRegistersModel"),
    "deit3-s/16": (dict(depth=2, img_size=32, dim=64, heads=4, num_classes=0), "Dinov2Model"),  # LayerScale, [CLS] without a position
    "clip-b/16": (dict(depth=2, img_size=32, dim=64, heads=4, num_classes=0), "CLIPVisionModel"),
    "siglip-b/16": (dict(depth=2, img_size=32, dim=64, heads=4), "SiglipVisionModel"),
    "dinov3-s/16": (dict(depth=2, img_size=32, dim=64, heads=4), "DINOv3ViTModel"),
}


@pytest.mark.parametrize("preset", list(HF_IMAGES))
def test_image_families_leave_as_their_transformers_class(tmp_path, preset):
    overrides, architecture = HF_IMAGES[preset]
    model = jittered(vit_bert.build_model(preset, **overrides))
    model.save_pretrained(tmp_path / "hf", format="transformers")
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["architectures"] == [architecture]
    theirs = getattr(transformers, architecture).from_pretrained(tmp_path / "hf").eval()
    images = torch.randn(2, 3, model.config.img_size, model.config.img_size)
    with torch.no_grad():
        out = theirs(pixel_values=images)
        if architecture.startswith("DeiTFor"):
            assert (out.logits - model(images)).abs().max() < 1e-5
        else:
            tokens = out.last_hidden_state
            if architecture == "CLIPVisionModel":  # its post_layernorm: this model's final norm
                tokens = getattr(theirs, "vision_model", theirs).post_layernorm(tokens)
            assert (tokens - model.forward_features(images)).abs().max() < 1e-5
            if architecture == "SiglipVisionModel":
                assert (out.pooler_output - model.forward_head(model.forward_features(images), pre_logits=True)).abs().max() < 1e-5
    back = vit_bert.load_pretrained(tmp_path / "hf").eval()  # and read back: the same tokens (a DeiT III reads back as the DINOv2 it was written as)
    with torch.no_grad():
        assert (back.forward_features(images) - model.forward_features(images)).abs().max() < 1e-5


def test_what_transformers_cannot_express_stops_with_one_line(tmp_path):
    with pytest.raises(ConfigError, match=r"cannot be written as a transformers model; the closest class, ViTModel: stem='conv' \(needs 'patch'\); format='timm'"):
        vit_bert.build_model("vit-cifar/4", depth=1, stem="conv").save_pretrained(tmp_path / "d", format="transformers")
    with pytest.raises(ConfigError, match=r"co-trained model .* has no transformers form.*task_model\(name\)"):
        vit_bert.build_multitask("bert-tiny", {"a": {"modality": "text", "vocab_size": 30, "num_classes": 2}}).save_pretrained(tmp_path / "m", format="transformers")


def test_export_writes_a_new_folder_whole_and_refuses_to_overwrite(tmp_path, capsys):
    model = jittered(vit_bert.build_model("vit-s/16", depth=2, img_size=32, num_classes=3))
    source = model.save_pretrained(tmp_path / "src")
    export(str(source), str(tmp_path / "out"), format="timm")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["config.json", "model.safetensors"]
    assert "wrote" in capsys.readouterr().out
    with pytest.raises(ConfigError, match="already exists and holds files; pass a new folder"):
        export(str(source), str(tmp_path / "out"), format="transformers")
    with pytest.raises(ConfigError, match="is or holds the source"):
        export(str(source), str(source / "inner"), format="timm")
    with pytest.raises(ConfigError, match="--format tflite: expected one of onnx, timm, transformers"):
        export(str(source), str(tmp_path / "x"), format="tflite")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "src"]  # no half-written folder left
