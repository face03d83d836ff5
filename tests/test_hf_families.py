"""RoBERTa, ELECTRA, DistilBERT and ModernBERT folders (transformers' save_pretrained, random weights) read by load_pretrained:
the same last_hidden_state at real tokens of a padded batch, the same masked-token logits, and typed errors for the rest."""

import pytest
import torch

pytest.importorskip("transformers")
from transformers import (  # noqa: E402
    BertConfig, BertForSequenceClassification, BertModel, DistilBertConfig, DistilBertForMaskedLM, DistilBertForSequenceClassification,
    DistilBertModel, ElectraConfig, ElectraForMaskedLM, ElectraForSequenceClassification, ElectraModel, ModernBertConfig, ModernBertForMaskedLM,
    ModernBertForSequenceClassification, ModernBertModel, RobertaConfig, RobertaForMaskedLM, RobertaForSequenceClassification, RobertaModel,
)

from vit_bert import load_pretrained  # noqa: E402
from vit_bert.errors import AmbiguousWeightsError, WeightsError, WeightsMismatchError  # noqa: E402

VOCAB, LENGTHS = 300, [12, 7, 3]
SMALL = dict(vocab_size=VOCAB, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=96, max_position_embeddings=40)
FAMILIES = {
    "roberta": (RobertaModel, RobertaConfig(**SMALL, pad_token_id=1, type_vocab_size=1)),
    "electra": (ElectraModel, ElectraConfig(**SMALL, embedding_size=32)),
    "distilbert": (DistilBertModel, DistilBertConfig(vocab_size=VOCAB, dim=64, n_layers=2, n_heads=4, hidden_dim=96, max_position_embeddings=40)),
    # layer 1 attends locally: 4 tokens each side, less than the longest sequence
    "modernbert": (ModernBertModel, ModernBertConfig(**SMALL, local_attention=8, pad_token_id=0, bos_token_id=1, eos_token_id=2,
                                                     cls_token_id=1, sep_token_id=2)),
}


def jittered(model: torch.nn.Module) -> torch.nn.Module:
    """Every parameter moved off its initial value (LayerNorms at 1/0 and zero biases would hide a misplaced tensor)."""
    torch.manual_seed(1)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.05 * torch.randn_like(param))
    return model.eval()


def padded(pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ids (the first token a [CLS]-like id, never the padding id) and their mask."""
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(3, VOCAB, (len(LENGTHS), max(LENGTHS)), generator=generator)
    mask = (torch.arange(max(LENGTHS))[None] < torch.tensor(LENGTHS)[:, None]).long()
    return ids.masked_fill(mask == 0, pad_id), mask


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


LABELS = {0: "negative", 1: "neutral", 2: "positive"}
CLASSIFIERS = {  # family -> (transformers class, config, the pooler's activation after its dense layer)
    "bert": (BertForSequenceClassification, BertConfig(**SMALL), "tanh"),
    "roberta": (RobertaForSequenceClassification, FAMILIES["roberta"][1], "tanh"),
    "electra": (ElectraForSequenceClassification, FAMILIES["electra"][1], "gelu"),
    "distilbert": (DistilBertForSequenceClassification, FAMILIES["distilbert"][1], "relu"),
    "modernbert": (ModernBertForSequenceClassification, FAMILIES["modernbert"][1], "gelu"),
    "modernbert-mean": (ModernBertForSequenceClassification, FAMILIES["modernbert"][1].__class__(
        **{**FAMILIES["modernbert"][1].to_dict(), "classifier_pooling": "mean", "classifier_activation": "silu", "classifier_bias": True}), "silu"),
}


@pytest.mark.parametrize("family", CLASSIFIERS)
def test_a_fine_tuned_sequence_classifier_keeps_its_head_and_label_names(tmp_path, family):
    """RoBERTa's and ELECTRA's classifier.{dense,out_proj}, DistilBERT's pre_classifier and ModernBERT's head.{dense,norm}
    are vit_bert's pooler (with their own activation; ModernBERT's with a norm) and classifier; id2label names the classes."""
    cls, config, activation = CLASSIFIERS[family]
    config = config.__class__(**{**config.to_dict(), "id2label": LABELS, "label2id": {v: k for k, v in LABELS.items()}})
    reference = jittered(cls(config))
    reference.save_pretrained(tmp_path)
    model = load_pretrained(tmp_path).eval()
    ids, mask = padded(config.pad_token_id)
    with torch.no_grad():
        theirs = reference(input_ids=ids, attention_mask=mask).logits
        ours = model(input_ids=ids, attention_mask=mask)
    assert ours.shape == theirs.shape == (len(LENGTHS), 3) and (ours - theirs).abs().max() <= 1e-5
    assert model.class_names == ["negative", "neutral", "positive"]
    assert (model.config.head_pooler, model.config.pooler_act, model.config.pooler_norm) == (True, activation, family.startswith("modernbert"))
    assert load_pretrained(tmp_path, num_classes=5).class_names is None  # a new head has no names yet


def test_vit_bert_predict_on_a_roberta_classifier_folder_names_its_labels_as_transformers_scores_them(tmp_path, capsys):
    """A folder as a fine-tuned RoBERTa comes: RoBERTa's byte-level tokenizer (<s> ... </s>, <pad>) and id2label."""
    from text_data import roberta_style_tokenizer, sentences

    from vit_bert.commands import main as vit_bert_main

    tokenizer = roberta_style_tokenizer([t for t, _ in sentences(200)])
    labels = {0: "NEGATIVE", 1: "POSITIVE"}
    config = RobertaConfig(**{**SMALL, "vocab_size": tokenizer.get_vocab_size()}, pad_token_id=1, type_vocab_size=1, id2label=labels,
                           label2id={v: k for k, v in labels.items()})
    reference = jittered(RobertaForSequenceClassification(config))
    reference.save_pretrained(tmp_path)
    tokenizer.save(str(tmp_path / "tokenizer.json"))
    texts = ["a good film", "the plot was very dull and the actors flat"]
    vit_bert_main(["predict", str(tmp_path), *texts])
    printed = [line.split("\t") for line in capsys.readouterr().out.strip().splitlines()]
    for (text, label, prob), sentence in zip(printed, texts):
        ids = torch.tensor([tokenizer.encode(sentence).ids])  # the tokenizer's own post-processor: <s> ... </s>
        assert ids[0, 0] == 0 and ids[0, -1] == 2
        with torch.no_grad():
            probs = reference(input_ids=ids).logits.softmax(-1)[0]
        assert text == sentence and label == labels[int(probs.argmax())] and abs(float(prob) - float(probs.max())) < 1e-4


@pytest.mark.parametrize("family, layers", [("distilbert", (torch.nn.Linear, torch.nn.ReLU)),
                                            ("modernbert", (torch.nn.Linear, torch.nn.GELU, torch.nn.LayerNorm))])
def test_head_pooler_on_a_base_model_builds_its_familys_classification_head(tmp_path, family, layers):
    """As transformers' XForSequenceClassification.from_pretrained(base) does: a fresh head of the family's shape."""
    cls, config = FAMILIES[family]
    cls(config).save_pretrained(tmp_path)
    model = load_pretrained(tmp_path, num_classes=2, head_pooler=True)
    assert tuple(type(layer) for layer in model.head.pooler) == layers
    assert float(model.head.pooler[0].weight.detach().std()) > 0  # initialised, not left empty


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


@pytest.mark.parametrize("fields, problem", [({"num_labels": 1}, "regression"),
                                             ({"num_labels": 3, "problem_type": "multi_label_classification"}, "multi_label_classification")])
def test_a_regression_or_multi_label_head_is_not_read_as_a_softmax_classifier(tmp_path, fields, problem):
    RobertaForSequenceClassification(RobertaConfig(**SMALL, pad_token_id=1, type_vocab_size=1, **fields)).save_pretrained(tmp_path)
    with pytest.raises(WeightsError, match=f"this is a {problem} head.*num_classes=0 for the encoder's features"):
        load_pretrained(tmp_path)
    assert load_pretrained(tmp_path, num_classes=0).config.num_classes == 0
    assert load_pretrained(tmp_path, num_classes=2).class_names is None  # a new classifier
    assert load_pretrained(tmp_path, head="mlm").config.head == "mlm"
    from vit_bert.config import DataContract
    from vit_bert.training import ClassificationTask

    from text_data import roberta_style_tokenizer, sentences

    tokenizer = roberta_style_tokenizer([t for t, _ in sentences(200)], VOCAB)
    contract = DataContract("text", ["neg", "pos"], vocab_size=VOCAB, pad_token_id=1, max_length=32, tokenizer=tokenizer.to_str())
    task = ClassificationTask("roberta-base", data_contract=contract, pretrained=str(tmp_path))  # fine-tuning decides the head
    assert task.model.config.num_classes == 2 and task.model.class_names == ["neg", "pos"]


@pytest.mark.parametrize("family, task", [("bert", "ForTokenClassification"), ("roberta", "ForQuestionAnswering"),
                                          ("distilbert", "ForMultipleChoice"), ("modernbert", "ForTokenClassification"),
                                          ("modernbert", "ForQuestionAnswering"), ("electra", "ForPreTraining")])
def test_a_per_token_span_or_choice_head_is_never_read_as_a_sequence_classifier(tmp_path, family, task):
    """Their heads are not vit_bert's: the encoder loads (asked for with num_classes), the head never does. ELECTRA's
    discriminator (ForPreTraining, the published electra-*-discriminator checkpoints) loads as its encoder."""
    import transformers

    config = BertConfig(**SMALL) if family == "bert" else FAMILIES[family][1]
    prefix = {"bert": "Bert", "roberta": "Roberta", "electra": "Electra", "distilbert": "DistilBert", "modernbert": "ModernBert"}[family]
    reference = jittered(getattr(transformers, prefix + task)(config))
    reference.save_pretrained(tmp_path)
    ids, mask = padded(config.pad_token_id)
    if task != "ForPreTraining":
        with pytest.raises(WeightsError, match=f"these are .*{task} weights, whose head .*Pass num_classes=0 for the encoder's features"):
            load_pretrained(tmp_path)
    model = load_pretrained(tmp_path, num_classes=0).eval()
    with torch.no_grad():
        gap = model.forward_features(input_ids=ids, attention_mask=mask) - reference.base_model(input_ids=ids, attention_mask=mask)[0]
    assert gap[mask.bool()].abs().max() <= 1e-5
    fresh = load_pretrained(tmp_path, num_classes=2)
    assert fresh.class_names is None and not fresh.config.head_pooler


def test_a_decoder_is_not_read_as_an_encoder(tmp_path):
    from transformers import RobertaForCausalLM

    RobertaForCausalLM(RobertaConfig(**{**FAMILIES["roberta"][1].to_dict(), "is_decoder": True})).save_pretrained(tmp_path)
    with pytest.raises(WeightsError, match="this roberta is a decoder.*attends to every token both ways"):
        load_pretrained(tmp_path, num_classes=0)


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


def test_a_roberta_folder_with_vocab_json_and_merges_txt_only_tokenizes_as_transformers_does(tmp_path):
    """Older RoBERTa checkpoints on the Hub ship vocab.json + merges.txt and no tokenizer.json."""
    from text_data import roberta_style_tokenizer, sentences
    from transformers import RobertaTokenizer

    from vit_bert.errors import SourceNotFoundError
    from vit_bert.tokenizer import TextTokenizer, load_tokenizer

    trained = roberta_style_tokenizer([t for t, _ in sentences(200)])
    trained.model.save(str(tmp_path))  # vocab.json, merges.txt
    config = RobertaConfig(**{**SMALL, "vocab_size": trained.get_vocab_size()}, pad_token_id=1, type_vocab_size=1)
    RobertaModel(config).save_pretrained(tmp_path)
    model = load_pretrained(tmp_path, num_classes=0)
    texts = ["A good film, the plot very dull!", "actors  story"]
    ours = TextTokenizer(model.tokenizer).encode(texts)[0]
    theirs = RobertaTokenizer(str(tmp_path / "vocab.json"), str(tmp_path / "merges.txt"))(texts)["input_ids"]
    assert ours == theirs and ours[0][0] == 0 and ours[0][-1] == 2
    (tmp_path / "merges.txt").unlink()
    assert load_pretrained(tmp_path, num_classes=0).tokenizer is None  # a vocab.json alone is no tokenizer
    with pytest.raises(SourceNotFoundError, match="vocab.json is a byte-level BPE vocabulary; it needs the merges.txt beside it"):
        load_tokenizer(tmp_path / "vocab.json")


def test_a_cased_vocab_txt_follows_its_tokenizer_config_as_transformers_does(tmp_path):
    """Many fine-tuned BERTs ship vocab.txt and tokenizer_config.json only; a cased one says do_lower_case: false."""
    import json

    from transformers import BertTokenizer

    from vit_bert.errors import ConfigError
    from vit_bert.tokenizer import TextTokenizer, load_tokenizer

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "Good", "good", "film", "Film", "a"]
    (tmp_path / "vocab.txt").write_text("\n".join(words) + "\n", encoding="utf-8")
    BertModel(BertConfig(**{**SMALL, "vocab_size": len(words)})).save_pretrained(tmp_path)
    texts = ["a Good Film", "a good film"]
    for cased in (False, True):
        (tmp_path / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": not cased}), encoding="utf-8")
        ours = TextTokenizer(load_pretrained(tmp_path, num_classes=0).tokenizer).encode(texts)[0]
        theirs = BertTokenizer(str(tmp_path / "vocab.txt"), do_lower_case=not cased)(texts)["input_ids"]
        assert ours == theirs and (ours[0] != ours[1]) == cased
    with pytest.raises(ConfigError, match="lowercase=True, but .*tokenizer_config.json says do_lower_case=False"):
        load_tokenizer(tmp_path / "vocab.txt", lowercase=True)
    (tmp_path / "tokenizer_config.json").unlink()
    assert TextTokenizer(load_tokenizer(tmp_path)).encode(texts)[0][0] == TextTokenizer(load_tokenizer(tmp_path)).encode(texts)[0][1]
