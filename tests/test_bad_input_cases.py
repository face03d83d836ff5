"""Unusual inputs that once gave a silent wrong answer, lost a file or showed a traceback: each now stops with one
line that says what was wrong and what to pass, or does the right thing."""

import os
from pathlib import Path

import pytest

import vit_bert
from vit_bert.cli import claim_version
from vit_bert.commands import train_py
from vit_bert.data import DataError, ImageDataModule, TextDataModule
from vit_bert.data.text import labelled_test
from vit_bert.data.text_files import TextRows, read_file
from vit_bert.errors import ConfigError
from vit_bert.export import check_output
from vit_bert.predict import expand_inputs


def one_line_error(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        train_py(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and err[-1].startswith("error: ")
    assert not [line for line in err if "Traceback" in line or line.startswith(("usage:", "  "))], err
    return err[-1]


def refused(path, content: str, text_column: str, message: str) -> None:
    """Reading ``content`` written to ``path`` stops with a DataError matching ``message``."""
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        read_file(path, text_column, "label")


def test_a_column_or_key_given_twice_is_an_error(tmp_path):
    refused(tmp_path / "train.tsv", "sentence\tlabel\tlabel\na good film\t1\t0\n", "sentence",
            r"train\.tsv's header names the column 'label' twice")
    refused(tmp_path / "train.jsonl", '{"text": "a good film", "label": 1, "label": 0}\n', "text",
            r"train\.jsonl line 1 gives the key 'label' twice")


def test_jsonl_lines_that_are_not_objects_and_fields_longer_than_csvs_cap(tmp_path):
    refused(tmp_path / "a.jsonl", '{"text": "fine", "label": 1}\n[1, 2]\n', "text", r"a\.jsonl line 2 is a JSON list; expected an object")
    long = "word " * 40_000  # 200,000 characters: csv's default field limit is 131,072
    (tmp_path / "b.tsv").write_text(f"sentence\tlabel\n{long}\t1\nshort\t0\n")
    rows = read_file(tmp_path / "b.tsv", "sentence", "label")
    assert rows.texts[0] == long and rows.labels == ["1", "0"]


def test_labels_spelled_in_two_cases_or_mixing_numbers_and_names_stop(tmp_path):
    refused(tmp_path / "a.tsv", "sentence\tlabel\none\tpos\ntwo\tPOS\nthree\tneg\n", "sentence",
            r"spells one label in several cases: 'pos' \(line 2\), 'POS' \(line 3\)")
    refused(tmp_path / "b.tsv", "sentence\tlabel\none\t0\ntwo\t1\nthree\tneg\nfour\tpos\n", "sentence",
            r"mixes numbered labels \('0', line 2\) with named ones \('neg', line 4\)")


def test_minus_one_marks_a_missing_label_only_where_it_is_not_a_class():
    raw = {"train": TextRows(["a", "b"], ["-1", "1"]), "val": TextRows(["c"], ["1"]), "test": TextRows(["d", "e"], ["-1", "-1"])}
    assert labelled_test(raw, "data", 0.1) is raw  # -1 is a training class: the test split is tested as it is
    glue = {**raw, "train": TextRows(["a", "b"], ["0", "1"])}
    assert labelled_test(glue, "data", 0.1)["test"] is raw["val"]  # GLUE's hidden labels: tested on val


@pytest.mark.parametrize("fraction", [1.5, 1.0, -0.2])
def test_val_fraction_outside_zero_to_one_stops(fraction, tmp_path):
    with pytest.raises(ConfigError, match=rf"data.val_fraction must be in \[0, 1\); got {fraction}"):
        ImageDataModule("digits", val_fraction=fraction)
    with pytest.raises(ConfigError, match=r"data.val_fraction must be in \[0, 1\)"):
        TextDataModule(root=str(tmp_path), val_fraction=fraction)


def test_text_files_split_on_newlines_only(tmp_path):
    (tmp_path / "reviews.txt").write_text("a line with\u2028a line separator inside\r\nsecond\x0cwith a form feed\n\nthird\n", encoding="utf-8")
    assert expand_inputs([str(tmp_path / "reviews.txt")], "text") == [
        "a line with\u2028a line separator inside", "second\x0cwith a form feed", "third"]
    (tmp_path / "latin1.txt").write_bytes("un film très bon\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1\.txt is not valid UTF-8 \(line 1, byte 10\); re-save it as UTF-8"):
        expand_inputs([str(tmp_path / "latin1.txt")], "text")


def test_export_refuses_to_write_over_its_source_or_where_it_cannot(tmp_path):
    model = vit_bert.build_model("vit-ti/16", num_classes=2, depth=1)
    model.save_pretrained(tmp_path / "folder")
    weights = (tmp_path / "folder/model.safetensors").read_bytes()
    with pytest.raises(ConfigError, match=r"model\.safetensors is a file of the source folder .*write outside the folder"):
        check_output(str(tmp_path / "folder"), tmp_path / "folder/model.safetensors")
    (tmp_path / "copy.ckpt").write_bytes(b"a checkpoint")
    with pytest.raises(ConfigError, match=r"copy\.ckpt is the source itself: exporting would replace it"):
        check_output(str(tmp_path / "copy.ckpt"), tmp_path / "copy.ckpt")
    with pytest.raises(ConfigError, match=r"is a folder; pass a file name for the ONNX file"):
        check_output(str(tmp_path / "folder"), tmp_path)
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked").chmod(0o500)
    try:
        if not os.access(tmp_path / "locked", os.W_OK):  # root writes anywhere: then there is nothing to refuse
            with pytest.raises(ConfigError, match=r"cannot write .*model\.onnx: .*locked is not a writable folder"):
                check_output(str(tmp_path / "folder"), tmp_path / "locked/model.onnx")
    finally:
        (tmp_path / "locked").chmod(0o700)
    with pytest.raises(ConfigError, match=r"cannot write .*: .*copy\.ckpt is not a writable folder"):
        check_output(str(tmp_path / "folder"), tmp_path / "copy.ckpt/model.onnx")  # below a file
    check_output(str(tmp_path / "folder"), tmp_path / "new/model.onnx")  # a folder still to make is fine
    assert (tmp_path / "folder/model.safetensors").read_bytes() == weights


def test_a_run_claims_its_version_folder_even_when_another_took_the_number_first(tmp_path, monkeypatch):
    runs = tmp_path / "runs/quickstart"
    assert claim_version(runs) == 0 and claim_version(runs) == 1 and (runs / "version_1").is_dir()
    monkeypatch.setattr(Path, "glob", lambda self, pattern: iter(()))  # the lookup saw none: another run was faster
    assert claim_version(runs) == 2  # version_0 and version_1 exist: mkdir refused them, the next one was taken


def test_syntax_errors_in_yaml_and_json_name_the_file_line_and_column(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.yaml").write_text("model:\n  lr: 0.1\ndata: {batch_size: 8\n")
    line = one_line_error(["--config", "bad.yaml"], capsys)
    assert "--config bad.yaml: not valid YAML at line 4, column 1 of bad.yaml" in line
    (tmp_path / "model").mkdir()
    (tmp_path / "model/config.json").write_text('{"model_type": "bert",\n "hidden_size": }')
    (tmp_path / "model/model.safetensors").write_bytes(b"")
    with pytest.raises(DataError, match=r"config\.json is not valid JSON: Expecting value at line 2, column 17"):
        vit_bert.load_pretrained(tmp_path / "model")


@pytest.mark.parametrize("argv, expected", [
    (["--data.batchsize", "8"], "--data.batchsize is not an option. Did you mean 'batch_size'?"),
    (["--model.lrr", "0.1"], "--model.lrr is not an option. Did you mean 'lr'?"),
    (["--rn_name", "x"], "--rn_name is not an option. Did you mean 'run_name'?"),
    (["--data.batch_size", "0"], "data.batch_size must be > 0; got 0"),
    (["--model.lr", "-1"], "model.lr must be >= 0; got -1.0"),
    (["--model.weight_decay", "-0.1"], "model.weight_decay must be >= 0; got -0.1"),
])
def test_bad_options_stop_with_one_line_and_the_closest_name(argv, expected, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert one_line_error(argv, capsys) == f"error: {expected}"
