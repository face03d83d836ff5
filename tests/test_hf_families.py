"""RoBERTa, ELECTRA, DistilBERT and ModernBERT folders (transformers' save_pretrained, random weights) read by load_pretrained:
the same last_hidden_state at real tokens of a padded batch, the same masked-token logits, typed errors for the rest, and
everything downstream (co-training, the trace, train.py, predict, export). Task heads: test_hf_heads.py; tokenizers:
test_hf_tokenizers.py."""

import pytest
import torch

pytest.importorskip("transformers")
from transformers import (  # noqa: E402
    BertConfig, BertModel, DistilBertConfig, DistilBertForMaskedLM, DistilBertModel, ElectraConfig, ElectraForMaskedLM, ElectraModel,
    ModernBertForMaskedLM, ModernBertModel, RobertaConfig, RobertaForMaskedLM, RobertaForSequenceClassification, RobertaModel,
)

from vit_bert import load_pretrained  # noqa: E402
from vit_bert.errors import AmbiguousWeightsError, WeightsError, WeightsMismatchError  # noqa: E402

from hf_models import FAMILIES, SMALL, jittered, padded  # noqa: E402


@pytest.mark.parametrize("family", FAMILIES)
def test_a_folder_of_each_family_matches_transformers_at_real_tokens(tmp_path, family):
    cls, config = FAMILIES[family]
    reference = jittered(cls(config))
    reference.save_pretrained(tmp_path)
    model = load_pretrained(tmp_path, num_classes=0).eval()
    ids, mask = padded(config.pad_token_id)
    with torch.no_grad():
        theirs = reference(input_ids=ids, attention_mask=mask).last_hidden_state
        ours = model.forward_features(input_ids=ids, attention_mask=mask)
    real = mask.bool()
    assert (ours[real] - theirs[real]).abs().max() <= 1e-5
    if family == "roberta":
        assert (model.config.position_offset, model.config.type_vocab_size) == (2, 1)
    if family == "electra":
        assert (model.config.embed_dim, model.config.dim) == (32, 64)
    if family == "distilbert":
        assert model.config.type_vocab_size == 0


@pytest.mark.parametrize("cls, config", [
    (RobertaForMaskedLM, FAMILIES["roberta"][1]),
    (DistilBertForMaskedLM, FAMILIES["distilbert"][1]),
    (ModernBertForMaskedLM, FAMILIES["modernbert"][1]),
])
def test_the_masked_lm_heads_give_the_same_logits(tmp_path, cls, config):
    reference = cls(config)
    reference.tie_weights()
    jittered(reference)
    reference.tie_weights()  # jittering moved both names of the one tied table, once
    reference.save_pretrained(tmp_path)
    model = load_pretrained(tmp_path, head="mlm").eval()
    ids, mask = padded(config.pad_token_id)
    with torch.no_grad():
        theirs = reference(input_ids=ids, attention_mask=mask).logits
        ours = model(input_ids=ids, attention_mask=mask)
    real = mask.bool()
    assert ours.shape == theirs.shape and (ours[real] - theirs[real]).abs().max() <= 1e-4


@pytest.mark.parametrize("family, task", [("roberta", "Model"), ("electra", "Model"), ("distilbert", "Model"), ("modernbert", "Model"),
                                          ("roberta", "ForTokenClassification")])
def test_co_training_starts_from_each_family_and_the_trace_equals_its_forward(tmp_path, family, task):
    """The shared encoder and the text task's front-end (fields as the folder has them) start from the folder; a
    token-classification folder gives its encoder too. The trace recomputes a block of each family exactly."""
    import transformers
    from text_data import sentences

    from vit_bert.config import DataContract
    from vit_bert.training.multitask import MultiTaskClassification
    from vit_bert.viz import trace_layer

    cls, config = FAMILIES[family]
    config = config.__class__(**{**config.to_dict(), "vocab_size": 80})
    getattr(transformers, cls.__name__.removesuffix("Model") + task)(config).save_pretrained(tmp_path)
    source = load_pretrained(tmp_path, num_classes=0).eval()
    text = {key: getattr(source.config, key) for key in ("type_vocab_size", "position_offset", "embed_dim", "learned_positions",
                                                          "norm_bias", "max_len")}
    contracts = {
        "digits": DataContract("image", [str(i) for i in range(10)], in_chans=1, img_size=8, mean=[0.3], std=[0.4]),
        "sst2": DataContract("text", ["neg", "pos"], vocab_size=80, pad_token_id=config.pad_token_id, max_length=32,
                             tokenizer=train_wordpiece_of(sentences(100))),
    }
    shared = MultiTaskClassification(tasks={"digits": {"patch_size": 2}, "sst2": text}, data_contract=contracts,
                                      pretrained=str(tmp_path)).model.eval()
    ids, mask = padded(config.pad_token_id)
    ids = ids % 80
    with torch.no_grad():
        assert torch.allclose(shared.task_model("sst2").forward_features(ids, attention_mask=mask),
                              source.forward_features(ids, attention_mask=mask), atol=1e-6)
    traced = trace_layer(source, {"input_ids": ids, "attention_mask": mask}, layer=1, head=1, index=1, out=lambda line: None)
    assert traced["difference"] <= 1e-5


def train_wordpiece_of(rows) -> str:
    from vit_bert.tokenizer import train_wordpiece

    return train_wordpiece([t for t, _ in rows], 80).to_str()


@pytest.mark.parametrize("cls, config", [
    (BertModel, BertConfig(**SMALL, hidden_act="relu")),
    (ElectraModel, ElectraConfig(**SMALL, embedding_size=32, hidden_act="silu")),
    (ModernBertModel, FAMILIES["modernbert"][1].__class__(**{**FAMILIES["modernbert"][1].to_dict(), "hidden_activation": "silu"})),
], ids=["bert-relu", "electra-silu", "modernbert-swiglu"])
def test_the_families_other_mlp_activations_match_transformers(tmp_path, cls, config):
    reference = jittered(cls(config))
    reference.save_pretrained(tmp_path)
    model = load_pretrained(tmp_path, num_classes=0).eval()
    ids, mask = padded(config.pad_token_id)
    with torch.no_grad():
        gap = model.forward_features(input_ids=ids, attention_mask=mask) - reference(input_ids=ids, attention_mask=mask).last_hidden_state
    assert gap[mask.bool()].abs().max() <= 1e-5


def test_a_bare_roberta_state_dict_asks_where_its_positions_start_and_then_loads():
    """No tensor stores RoBERTa's padding id, after which its positions count: loaded as a BERT's, every output would differ."""
    base = jittered(RobertaModel(FAMILIES["roberta"][1]))
    with pytest.raises(AmbiguousWeightsError, match="may be a RobertaModel's.*pass position_offset=2, pad_token_id=1"):
        load_pretrained(base.state_dict(), heads=4)
    classifier = jittered(RobertaForSequenceClassification(FAMILIES["roberta"][1]))
    with pytest.raises(AmbiguousWeightsError, match="roberta state dict without config.json.*pass pad_token_id="):
        load_pretrained(classifier.state_dict(), heads=4)
    ids, mask = padded(1)
    with torch.no_grad():
        model = load_pretrained(base.state_dict(), heads=4, num_classes=0, position_offset=2, pad_token_id=1).eval()
        gap = model.forward_features(input_ids=ids, attention_mask=mask) - base(input_ids=ids, attention_mask=mask).last_hidden_state
        assert gap[mask.bool()].abs().max() <= 1e-5
        model = load_pretrained(classifier.state_dict(), heads=4, pad_token_id=1).eval()
        assert (model(input_ids=ids, attention_mask=mask) - classifier(input_ids=ids, attention_mask=mask).logits).abs().max() <= 1e-5


@pytest.mark.parametrize("cls, config, preset", [
    (RobertaModel, RobertaConfig(max_position_embeddings=514, type_vocab_size=1, layer_norm_eps=1e-5), "roberta-base"),
    (DistilBertModel, DistilBertConfig(), "distilbert-base"),
    (ElectraModel, ElectraConfig(), "electra-small"),
])
def test_the_bert_family_presets_are_the_transformers_architectures(cls, config, preset):
    """What the loader reads of the published architecture is the preset, the pooler's activation included."""
    from vit_bert.config import ARCHITECTURE_FIELDS, ModelConfig
    from vit_bert.weights.hf_bert import hf_bert_config

    with torch.device("meta"):
        reference = cls(config)
    read, ours = hf_bert_config(config.to_dict(), reference.state_dict()), ModelConfig.from_name(preset)
    for key in (*ARCHITECTURE_FIELDS, "ln_eps", "pad_token_id", "heads"):
        assert read.get(key, getattr(ModelConfig(), key)) == getattr(ours, key), key


def test_a_bare_distilbert_state_dict_asks_for_the_head_count_and_then_loads():
    reference = jittered(DistilBertModel(FAMILIES["distilbert"][1]))
    with pytest.raises(AmbiguousWeightsError, match="distilbert state dict without config.json.*pass heads="):
        load_pretrained(reference.state_dict())
    model = load_pretrained(reference.state_dict(), heads=4, num_classes=0).eval()
    ids, mask = padded(0)
    with torch.no_grad():
        gap = model.forward_features(input_ids=ids, attention_mask=mask) - reference(input_ids=ids, attention_mask=mask).last_hidden_state
    assert gap[mask.bool()].abs().max() <= 1e-5


def test_another_model_type_and_an_unknown_state_dict_stop_with_typed_errors(tmp_path):
    BertModel(BertConfig(**SMALL)).save_pretrained(tmp_path)
    config = (tmp_path / "config.json").read_text().replace('"model_type": "bert"', '"model_type": "gpt2"')
    (tmp_path / "config.json").write_text(config)
    with pytest.raises(WeightsError, match="'gpt2' model; vit_bert reads the model types 'bert', 'roberta', 'electra', 'distilbert', 'modernbert'"):
        load_pretrained(tmp_path)
    with pytest.raises(WeightsMismatchError, match="needs word embeddings and attention layers"):
        load_pretrained({"embeddings.word_embeddings.weight": torch.zeros(10, 8)}, heads=2)


def test_electras_generator_head_maps_back_to_its_narrower_embeddings_and_stops_where_its_gelu_is_not_the_encoders(tmp_path):
    config = FAMILIES["electra"][1]
    reference = ElectraForMaskedLM(config)
    reference.tie_weights()
    jittered(reference)
    reference.tie_weights()
    reference.save_pretrained(tmp_path / "generator")
    model = load_pretrained(tmp_path / "generator", head="mlm").eval()
    ids, mask = padded(config.pad_token_id)
    with torch.no_grad():
        gap = model(input_ids=ids, attention_mask=mask) - reference(input_ids=ids, attention_mask=mask).logits
    assert model.head.dense.weight.shape == (32, 64) and gap[mask.bool()].abs().max() <= 1e-4
    ElectraForMaskedLM(ElectraConfig(**{**config.to_dict(), "hidden_act": "relu"})).save_pretrained(tmp_path / "relu")
    with pytest.raises(WeightsError, match="generator head uses GELU whatever hidden_act says.*head='classifier'"):
        load_pretrained(tmp_path / "relu", head="mlm")


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_fine_tunes_predicts_exports_and_pretrains_through_the_command_line(tmp_path, monkeypatch, capsys, family):
    """A folder as users have it (weights, config.json, tokenizer.json; RoBERTa's byte-level BPE with <s>, </s>, <pad>, <mask>):
    vit-bert fit --model.pretrained, predict, export, and masked-token pretraining from it (ELECTRA's head maps back
    to its narrower embeddings)."""
    from text_data import roberta_style_tokenizer, sentences, write_splits

    from vit_bert.commands import main as vit_bert_main
    from vit_bert.commands import train_py
    from vit_bert.tokenizer import train_wordpiece

    monkeypatch.chdir(tmp_path)
    write_splits(tmp_path / "data", "tsv", n_train=120, n_test=40)
    texts = [t for t, _ in sentences(200)]
    tokenizer = roberta_style_tokenizer(texts) if family == "roberta" else train_wordpiece(texts, 120)
    pad = tokenizer.token_to_id("<pad>" if family == "roberta" else "[PAD]")
    cls, config = FAMILIES[family]
    config = config.__class__(**{**config.to_dict(), "vocab_size": tokenizer.get_vocab_size(), "pad_token_id": pad,
                                 "max_position_embeddings": 128})  # sst2_bert and mlm_pretrain have max_len 128
    jittered(cls(config)).save_pretrained(tmp_path / "hf")
    (tmp_path / "hf" / "tokenizer.json").write_text(tokenizer.to_str(), encoding="utf-8")
    quiet = ["--trainer.max_epochs", "1", "--trainer.enable_progress_bar", "false", "--data.root", "data", "--data.max_length", "24"]
    train_py(["--config", "sst2_bert", "--model.pretrained", "hf", *quiet])
    out = capsys.readouterr().out
    assert "test accuracy: " in out
    best = out.split("checkpoint: ")[1].split()[0]
    vit_bert_main(["predict", best, "a good film", "a dull plot"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == ["a good film", "a dull plot"]
    vit_bert_main(["export", best, "model.onnx"])
    assert "max |difference|" in capsys.readouterr().out and (tmp_path / "model.onnx").is_file()
    train_py(["--config", "mlm_pretrain", "--model.pretrained", "hf", "--data.text_column", "sentence", *quiet])
    assert "test masked-token accuracy: " in capsys.readouterr().out
