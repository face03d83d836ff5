import pytest
import torch

from vit_bert.data import DataError, TextDataModule
from vit_bert.tokenizer import TextTokenizer, load_tokenizer, train_wordpiece
from text_data import sentences, write, write_splits


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl"])
@pytest.mark.parametrize("int_labels", [True, False])
def test_loads_each_format_with_int_and_string_labels(tmp_path, fmt, int_labels):
    write_splits(tmp_path, fmt, n_train=120, n_test=40, int_labels=int_labels)
    dm = TextDataModule(root=str(tmp_path), text_column="sentence", tokenizer_vocab_size=200, batch_size=8)
    info = dm.contract
    assert info.num_classes == 2
    assert info.class_names == (["0", "1"] if int_labels else ["neg", "pos"])
    dm.setup("fit")
    assert len(dm.splits["train"].ids) == 108 and len(dm.splits["val"].ids) == 12 and len(dm.splits["test"].ids) == 40
    batch = next(iter(dm.train_dataloader()))
    assert set(batch) == {"input_ids", "attention_mask", "labels"}
    assert batch["input_ids"].shape == batch["attention_mask"].shape
    cls_id = dm.tokenizer.cls_id
    assert (batch["input_ids"][:, 0] == cls_id).all()
    # [SEP] closes every sequence at its own length; padding after it
    lengths = batch["attention_mask"].sum(1)
    assert all(batch["input_ids"][i, lengths[i] - 1] == dm.tokenizer.sep_id for i in range(len(lengths)))
    assert (batch["input_ids"][batch["attention_mask"] == 0] == dm.tokenizer.pad_id).all()


def test_string_labels_map_to_the_same_ids_in_every_split(tmp_path):
    write_splits(tmp_path, "csv", int_labels=False)
    dm = TextDataModule(root=str(tmp_path), text_column="sentence", tokenizer_vocab_size=200)
    dm.setup("fit")
    texts = [t for t, _ in sentences(100, 1)]
    labels = [y for _, y in sentences(100, 1)]
    assert dm.splits["test"].labels == [dm.labels.names.index(y) for y in labels]
    assert len(texts) == len(dm.splits["test"].ids)


def test_missing_column_lists_the_columns_found(tmp_path):
    write_splits(tmp_path, "tsv")
    with pytest.raises(DataError, match=r"no column 'text'; columns found: \['sentence', 'label'\]"):
        TextDataModule(root=str(tmp_path)).contract


def test_unseen_test_label_is_an_error(tmp_path):
    write_splits(tmp_path, "csv", int_labels=False)
    write(tmp_path / "test.csv", [("a very good film", "neutral")], "csv")
    with pytest.raises(DataError, match=r"labels not seen in training: \['neutral'\]"):
        TextDataModule(root=str(tmp_path), text_column="sentence", tokenizer_vocab_size=100).contract


def test_tokenizer_round_trip_and_truncation(tmp_path):
    texts = [t for t, _ in sentences(300)]
    tokenizer = train_wordpiece(texts, vocab_size=300)
    encoder = TextTokenizer(tokenizer, max_length=5)
    ids, truncated = encoder.encode(["the movie was very good", "good"])
    assert truncated == 1
    assert [len(i) for i in ids] == [5, 3]
    assert encoder.tokens(ids[1]) == ["[CLS]", "good", "[SEP]"]
    tokenizer.save(str(tmp_path / "tokenizer.json"))
    again = TextTokenizer(load_tokenizer(tmp_path / "tokenizer.json"), max_length=5)
    assert again.encode(["the movie was very good", "good"])[0] == ids
    # a BERT vocab.txt works too
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    (tmp_path / "vocab.txt").write_text("\n".join(token for token, _ in vocab) + "\n", encoding="utf-8")
    from_vocab = TextTokenizer(load_tokenizer(tmp_path), max_length=5)  # the folder: tokenizer.json wins
    assert from_vocab.encode(["good"])[0] == ids[1:]
    assert TextTokenizer(load_tokenizer(tmp_path / "vocab.txt"), 5).encode(["good"])[0] == ids[1:]


def test_the_same_texts_always_train_the_same_wordpiece_vocabulary():
    # tokenizers' own trainer numbers the ##-pieces in hash order: 8 runs on these texts gave 8 vocabularies
    texts = ["a gripping , funny and beautifully shot film", "the film is dull and far too long", "wonderful acting , awful script"] * 3
    trained = [train_wordpiece(texts, vocab_size=60) for _ in range(8)]
    assert len({t.to_str() for t in trained}) == 1
    tokenizer = trained[0]
    assert tokenizer.get_vocab_size() == 60
    assert [tokenizer.id_to_token(i) for i in range(5)] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert [t.content for t in tokenizer.get_added_tokens_decoder().values()] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    encoded = TextTokenizer(tokenizer, max_length=16).encode(["Gripping film"])[0][0]
    assert encoded[0] == 2 and encoded[-1] == 3 and tokenizer.decode(encoded) == "gripping film"


def test_the_figures_label_byte_level_tokens_with_the_text_they_stand_for():
    """RoBERTa's and ModernBERT's byte-level BPE names a space Ġ and each byte of é a character of its own (Ã©)."""
    from text_data import roberta_style_tokenizer

    texts = [t for t, _ in sentences(200)] + ["café au lait"] * 20
    merged = TextTokenizer(roberta_style_tokenizer(texts, 320))
    ids = merged.encode(["café good"])[0][0]
    assert [merged.tokenizer.id_to_token(i) for i in ids][:3] == ["<s>", "cafÃ©", "Ġg"]
    assert merged.tokens(ids)[:3] == ["<s>", "café", "▁g"] and merged.tokens(ids)[-1] == "</s>"
    split = TextTokenizer(roberta_style_tokenizer(texts, 262))  # too few merges to join é's two bytes
    ids = split.encode(["é"])[0][0]
    assert split.tokens(ids) == ["<s>", "Ã", "©", "</s>"]  # half a character has no text: its vocabulary name stays
    wordpiece = TextTokenizer(train_wordpiece([t for t, _ in sentences(200)], 120))
    ids = wordpiece.encode(["charming"])[0][0]
    assert wordpiece.tokens(ids) == [wordpiece.tokenizer.id_to_token(i) for i in ids]


def test_collate_pads_to_longest():
    tokenizer = train_wordpiece([t for t, _ in sentences(50)], vocab_size=120)
    encoder = TextTokenizer(tokenizer, max_length=16)
    batch = encoder.collate([[2, 5, 3], [2, 3]])
    assert batch["input_ids"].tolist() == [[2, 5, 3], [2, 3, encoder.pad_id]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert batch["input_ids"].dtype == torch.long


def test_hf_dataset_without_the_datasets_package_is_a_clear_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_datasets(name, *args, **kwargs):
        if name == "datasets":
            raise ImportError("no datasets")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_datasets)
    with pytest.raises(DataError, match=r"needs the 'datasets' package: pip install datasets"):
        TextDataModule(hf_dataset="stanfordnlp/sst2").contract


def test_empty_and_whitespace_rows_are_skipped_and_counted(tmp_path, caplog):
    write_splits(tmp_path, "tsv")
    with open(tmp_path / "train.tsv", "a", encoding="utf-8") as f:
        f.write("\t1\n   \t0\n")
    dm = TextDataModule(root=str(tmp_path), text_column="sentence", tokenizer_vocab_size=100)
    dm.contract
    assert "skipped 2 row(s) with empty text" in caplog.text
    assert len(dm.splits["train"].ids) + len(dm.splits["val"].ids) == 400


def test_non_utf8_bytes_and_empty_files_are_named(tmp_path):
    write_splits(tmp_path, "tsv")
    (tmp_path / "train.tsv").write_bytes(b"sentence\tlabel\ngood film\t1\nbad \xff\xfe film\t0\n")
    with pytest.raises(DataError, match=r"train.tsv is not valid UTF-8 \(line 3, .*re-save it as UTF-8"):
        TextDataModule(root=str(tmp_path), text_column="sentence").contract
    (tmp_path / "train.tsv").write_text("  \n", encoding="utf-8")
    with pytest.raises(DataError, match=r"train.tsv is empty; expected a header row"):
        TextDataModule(root=str(tmp_path), text_column="sentence").contract


def test_long_lines_are_truncated_and_counted(tmp_path, caplog):
    write_splits(tmp_path, "tsv")
    with open(tmp_path / "train.tsv", "a", encoding="utf-8") as f:
        f.write(" ".join(["good"] * 5000) + "\t1\n")
    dm = TextDataModule(root=str(tmp_path), text_column="sentence", tokenizer_vocab_size=100, max_length=16)
    dm.contract
    assert "texts truncated to max_length=16 tokens" in caplog.text
    assert max(len(ids) for ids in dm.splits["train"].ids + dm.splits["val"].ids) == 16


def test_a_row_with_an_empty_label_names_the_file_and_line(tmp_path):
    write_splits(tmp_path, "csv", n_train=20, n_test=10)
    with open(tmp_path / "train.csv", "a", encoding="utf-8") as f:
        f.write("a good film,\n")
    with pytest.raises(DataError, match=r"train.csv line 22 has an empty 'label'.*expected a label"):
        TextDataModule(root=str(tmp_path), text_column="sentence").contract


@pytest.mark.parametrize("row, found", [("a good\tfilm\t1", 3), ("no label at all", 1)])
def test_a_row_with_too_many_or_too_few_fields_names_the_file_and_line(tmp_path, row, found):
    write_splits(tmp_path, "tsv", n_train=20, n_test=10)
    lines = (tmp_path / "train.tsv").read_text().splitlines()
    lines.insert(5, row)
    (tmp_path / "train.tsv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=rf"train.tsv line 6 has {found} fields; expected 2 \(sentence, label\)"):
        TextDataModule(root=str(tmp_path), text_column="sentence").contract


def test_an_unlabelled_hugging_face_test_split_is_replaced_by_validation(monkeypatch, caplog):
    datasets = pytest.importorskip("datasets")
    rows = sentences(60, seed=3)
    label = datasets.ClassLabel(names=["neg", "pos"])
    features = datasets.Features({"sentence": datasets.Value("string"), "label": label})

    def split(part, hidden=False):
        return datasets.Dataset.from_dict(
            {"sentence": [t for t, _ in part], "label": [-1 if hidden else label.str2int(y) for _, y in part]}, features=features
        )

    loaded = datasets.DatasetDict(train=split(rows[:40]), validation=split(rows[40:50]), test=split(rows[50:], hidden=True))
    monkeypatch.setattr(datasets, "load_dataset", lambda name: loaded)
    dm = TextDataModule(hf_dataset="glue-like/sst2", text_column="sentence", tokenizer_vocab_size=100, val_fraction=0.25)
    assert dm.contract.class_names == ["neg", "pos"]
    assert "the test split has no labels (all -1); testing on the validation split instead" in caplog.text
    test_ids, _ = dm.tokenizer.encode([t for t, _ in rows[40:50]])
    assert dm.splits["test"].ids == test_ids and dm.splits["test"].labels == [["neg", "pos"].index(y) for _, y in rows[40:50]]
    assert len(dm.splits["train"]) == 30 and len(dm.splits["val"]) == 10  # validation held out from train


def test_one_label_spelled_as_two_numbers_stops_with_a_line_of_each(tmp_path):
    write_splits(tmp_path, "csv", n_train=20, n_test=10)
    with open(tmp_path / "train.csv", "a", encoding="utf-8") as f:
        f.write("a good film,1.0\n")
    with pytest.raises(DataError, match=r"train.csv spells one label as several numbers: '1' \(line \d+\), '1.0' \(line 22\)"):
        TextDataModule(root=str(tmp_path), text_column="sentence").contract
