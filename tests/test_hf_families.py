"""RoBERTa, ELECTRA, DistilBERT and ModernBERT folders (transformers' save_pretrained, random weights) read by load_pretrained:
the same last_hidden_state at real tokens of a padded batch, the same masked-token logits, and typed errors for the rest."""

import pytest
import torch

pytest.importorskip("transformers")
from transformers import (  # noqa: E402
    BertConfig, BertModel, DistilBertConfig, DistilBertForMaskedLM, DistilBertModel, ElectraConfig, ElectraModel, ModernBertConfig,
    ModernBertForMaskedLM, ModernBertModel, RobertaConfig, RobertaForMaskedLM, RobertaModel,
)

from vit_bert import load_pretrained  # noqa: E402
from vit_bert.errors import AmbiguousWeightsError, ConfigError, WeightsError, WeightsMismatchError  # noqa: E402

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


def test_electra_embeddings_cannot_carry_the_tied_mlm_head(tmp_path):
    reference = ElectraModel(FAMILIES["electra"][1])
    reference.save_pretrained(tmp_path)
    with pytest.raises(ConfigError, match="ties its decoder to word embeddings.*use head='classifier'"):
        load_pretrained(tmp_path, head="mlm")


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_fine_tunes_predicts_exports_and_pretrains_through_the_command_line(tmp_path, monkeypatch, capsys, family):
    """A folder as users have it (weights, config.json, tokenizer.json): vit-bert fit --model.pretrained, predict, export,
    and masked-token pretraining from it where the family's tied head fits (not ELECTRA's narrower embeddings)."""
    from text_data import sentences, write_splits

    from vit_bert.commands import main as vit_bert_main
    from vit_bert.commands import train_py
    from vit_bert.tokenizer import train_wordpiece

    monkeypatch.chdir(tmp_path)
    write_splits(tmp_path / "data", "tsv", n_train=120, n_test=40)
    tokenizer = train_wordpiece([t for t, _ in sentences(200)], 120)
    cls, config = FAMILIES[family]
    config = config.__class__(**{**config.to_dict(), "vocab_size": tokenizer.get_vocab_size(), "pad_token_id": tokenizer.token_to_id("[PAD]"),
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
    if family != "electra":
        train_py(["--config", "mlm_pretrain", "--model.pretrained", "hf", "--data.text_column", "sentence", *quiet])
        assert "test masked-token accuracy: " in capsys.readouterr().out
