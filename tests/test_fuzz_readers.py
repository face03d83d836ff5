"""Every reader of user files, on random and mutated bytes: each outcome is a result or a VitBertError of one line,
never another exception (hypothesis; a longer coverage-guided run is scripts/fuzz_readers.py)."""

import io
import json
import zipfile

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image
from safetensors.torch import save as safetensors_bytes

import vit_bert
from vit_bert.data.image_reading import open_image
from vit_bert.data.text_files import read_file
from vit_bert.errors import VitBertError

# derandomized: the same examples on every run, so CI cannot fail by luck; scripts/fuzz_readers.py explores
FUZZ = settings(max_examples=25, deadline=2000, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def outcome(call):
    """The call's result, or its VitBertError (one line); anything else fails the test."""
    try:
        return call()
    except VitBertError as err:
        assert "\n" not in str(err), str(err)
        return err


def mutate(data: bytes, flips: list[tuple[int, int]], cut: int | None) -> bytes:
    out = bytearray(data)
    for position, value in flips:
        if out:
            out[position % len(out)] = value
    return bytes(out[:cut] if cut is not None else out)


MUTATIONS = dict(flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=8),
                 cut=st.one_of(st.none(), st.integers(0, 4000)))


def image_bytes(kind: str) -> bytes:
    buffer = io.BytesIO()
    pixels = np.random.default_rng(0).integers(0, 255, (20, 24, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(buffer, format=kind)
    return buffer.getvalue()


SEEDS = {kind: image_bytes(kind) for kind in ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")}


@FUZZ
@given(kind=st.sampled_from(sorted(SEEDS)), **MUTATIONS)
def test_the_image_reader_on_mutated_files(kind, flips, cut):
    result = outcome(lambda: open_image(mutate(SEEDS[kind], flips, cut)))
    assert isinstance(result, (Image.Image, VitBertError))
    if isinstance(result, Image.Image):
        assert result.mode == "RGB" and result.width * result.height <= 89_478_485


@FUZZ
@given(data=st.binary(max_size=2000))
def test_the_image_reader_on_random_bytes(data):
    assert isinstance(outcome(lambda: open_image(data)), (Image.Image, VitBertError))


TABLE_TEXT = st.text(alphabet=st.sampled_from(list("ab,\t\n\r\"{}[]:-1 \u2028\x00é")), max_size=300)


@FUZZ
@given(content=TABLE_TEXT, suffix=st.sampled_from([".tsv", ".csv", ".jsonl", ".txt"]))
def test_the_text_readers_on_random_tables(tmp_path, content, suffix):
    path = tmp_path / f"train{suffix}"
    path.write_text("text\tlabel\n" + content if suffix == ".tsv" else content, encoding="utf-8")
    result = outcome(lambda: read_file(path, "text", "label"))
    if not isinstance(result, VitBertError):
        assert len(result.texts) == len(result.labels) and all(t.strip() for t in result.texts)


@FUZZ
@given(data=st.binary(max_size=400), suffix=st.sampled_from([".tsv", ".jsonl"]))
def test_the_text_readers_on_random_bytes(tmp_path, data, suffix):
    path = tmp_path / f"train{suffix}"
    path.write_bytes(data)
    outcome(lambda: read_file(path, "text", "label"))


def folder_files(tmp_path):
    vit_bert.build_model("vit-ti/16", num_classes=2, depth=1, dim=24, heads=2, img_size=32).save_pretrained(tmp_path / "seed")
    return {name: (tmp_path / "seed" / name).read_bytes() for name in ("config.json", "model.safetensors")}


@pytest.fixture(scope="module")
def vit_weights(tmp_path_factory):
    """A tiny transformers ViTModel's weights file, as save_pretrained writes it (the Hub's key names)."""
    transformers = pytest.importorskip("transformers")
    config = transformers.ViTConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, image_size=16, patch_size=8)
    folder = tmp_path_factory.mktemp("vit")
    transformers.ViTModel(config).save_pretrained(folder)
    return (folder / "model.safetensors").read_bytes()


@pytest.fixture(scope="module")
def seed_folder(tmp_path_factory):
    return folder_files(tmp_path_factory.mktemp("fuzz"))


@FUZZ
@given(target=st.sampled_from(["config.json", "model.safetensors"]), **MUTATIONS)
def test_load_pretrained_on_mutated_folders(tmp_path, seed_folder, target, flips, cut):
    folder = tmp_path / "model"
    folder.mkdir(exist_ok=True)
    for name, data in seed_folder.items():
        (folder / name).write_bytes(mutate(data, flips, cut) if name == target else data)
    result = outcome(lambda: vit_bert.load_pretrained(folder))
    assert isinstance(result, (torch.nn.Module, VitBertError))


@FUZZ
@given(kind=st.sampled_from(["vit", "deit", "bert", "modernbert", "gpt2", None]),
       values=st.dictionaries(st.sampled_from(["hidden_size", "num_attention_heads", "num_hidden_layers", "layer_norm_eps",
                                               "image_size", "patch_size", "intermediate_size", "hidden_act", "vit_bert", "id2label"]),
                              st.one_of(st.integers(-3, 300), st.text(max_size=8), st.none(), st.lists(st.integers(0, 3), max_size=3)),
                              max_size=6))
def test_load_pretrained_on_random_hugging_face_configs(tmp_path, vit_weights, kind, values):
    values = {**values, **({"model_type": kind} if kind else {})}
    folder = tmp_path / "hf"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text(json.dumps(values))
    weights = vit_weights if kind in ("vit", "deit") else safetensors_bytes({"embeddings.cls_token": torch.zeros(1, 1, 8)})
    (folder / "model.safetensors").write_bytes(weights)
    outcome(lambda: vit_bert.load_pretrained(folder))


@FUZZ
@given(**MUTATIONS)
def test_load_pretrained_on_mutated_checkpoints(tmp_path, flips, cut):
    buffer = io.BytesIO()
    torch.save({"state_dict": {"model.x": torch.zeros(2)}, "vit_bert_model_config": {"modality": "image"}}, buffer)
    path = tmp_path / "mutated.ckpt"
    path.write_bytes(mutate(buffer.getvalue(), flips, cut))
    result = outcome(lambda: vit_bert.load_pretrained(path))
    assert isinstance(result, (torch.nn.Module, VitBertError))
    assert zipfile.is_zipfile(io.BytesIO(buffer.getvalue()))  # the seed is a real torch zip


@pytest.fixture(scope="module")
def explorer_server(tmp_path_factory):
    from vit_bert.viz.server import ExplorerServer

    folder = tmp_path_factory.mktemp("explore") / "vit"
    vit_bert.build_model("vit-ti/16", num_classes=2, depth=1, dim=24, heads=2, img_size=32).save_pretrained(folder)
    server = ExplorerServer(str(folder), 0, 100_000, task=None, options=("cpu", None, [0.5] * 3, [0.5] * 3), layer=-1, steps_layers=None)
    yield server
    server.server_close()


@FUZZ
@given(kind=st.sampled_from(["PNG", "JPEG", "GIF"]), content_type=st.sampled_from(["image/png", "image/jpeg", "image/gif", "text/plain",
                                                                                   "application/json", "", "image/png; x=1"]), **MUTATIONS)
def test_the_explorer_handler_on_mutated_uploads(explorer_server, kind, content_type, flips, cut):
    result = outcome(lambda: explorer_server.panels(mutate(SEEDS[kind], flips, cut), content_type))
    assert isinstance(result, (list, VitBertError))


@pytest.mark.slow
@settings(max_examples=25, deadline=20_000, derandomize=True, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=st.lists(st.one_of(st.sampled_from(["--data.batch_size", "--model.lr", "--data.val_fraction", "--trainer.max_epochs",
                                                "--model.config", "--data.dataset", "--config", "--model.preset", "--ckpt_path"]),
                               st.text(alphabet=st.sampled_from(list("-.:{}[]01a_ ")), max_size=12)), max_size=4))
def test_the_command_line_on_random_options(tmp_path, monkeypatch, capsys, argv):
    from vit_bert.cli import build_cli

    monkeypatch.chdir(tmp_path)
    try:
        outcome(lambda: build_cli([*argv, "--trainer.max_epochs", "0"]))
    except SystemExit as exit_info:  # the parser's own refusal: exit code 2 and one line
        assert exit_info.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err and err[-1].startswith("error: ") and not any("Traceback" in line for line in err), err
