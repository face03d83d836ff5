"""The task heads of transformers' text families read by load_pretrained: sequence classifiers with their labels, and
the heads vit_bert has no counterpart for (token, span, choice, regression, decoders), which are never read as one."""

import pytest
import torch

pytest.importorskip("transformers")
from transformers import (  # noqa: E402
    BertConfig, BertForSequenceClassification, DistilBertForSequenceClassification, ElectraForSequenceClassification,
    ModernBertForSequenceClassification, RobertaConfig, RobertaForSequenceClassification,
)

from vit_bert import load_pretrained  # noqa: E402
from vit_bert.errors import WeightsError  # noqa: E402

from hf_models import FAMILIES, LENGTHS, SMALL, VOCAB, jittered, padded  # noqa: E402

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


@pytest.mark.parametrize("family, layers", [("distilbert", (torch.nn.Linear, torch.nn.ReLU)),
                                            ("modernbert", (torch.nn.Linear, torch.nn.GELU, torch.nn.LayerNorm))])
def test_head_pooler_on_a_base_model_builds_its_familys_classification_head(tmp_path, family, layers):
    """As transformers' XForSequenceClassification.from_pretrained(base) does: a fresh head of the family's shape."""
    cls, config = FAMILIES[family]
    cls(config).save_pretrained(tmp_path)
    model = load_pretrained(tmp_path, num_classes=2, head_pooler=True)
    assert tuple(type(layer) for layer in model.head.pooler) == layers
    assert float(model.head.pooler[0].weight.detach().std()) > 0  # initialised, not left empty


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
