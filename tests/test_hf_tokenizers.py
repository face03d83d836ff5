"""The tokenizers Hugging Face folders ship, read as transformers reads them: RoBERTa's byte-level BPE (tokenizer.json,
or vocab.json + merges.txt) and a vocab.txt cased or not as its tokenizer_config.json says."""

import pytest
import torch

pytest.importorskip("transformers")
from transformers import BertConfig, BertModel, RobertaConfig, RobertaForSequenceClassification, RobertaModel  # noqa: E402

from vit_bert import load_pretrained  # noqa: E402

from hf_models import SMALL, jittered  # noqa: E402


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
