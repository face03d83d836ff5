"""ONNX export: dynamic batch (and sequence length for text), checked with onnxruntime."""

import subprocess
import sys
import warnings

import pytest

import vit_bert
from vit_bert.export import example_inputs, export_onnx, onnx_max_difference

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

MODELS = {
    "image": lambda: vit_bert.build_model("vit-ti/16", img_size=32, patch_size=8, depth=2, num_classes=5),
    "text": lambda: vit_bert.build_model("bert-tiny", vocab_size=100, max_len=64, num_classes=3),
    "masked-text": lambda: vit_bert.build_model("bert-tiny", vocab_size=100, max_len=64, head="mlm"),  # (B, T, vocab) logits
}


@pytest.mark.slow
@pytest.mark.parametrize("modality", MODELS)
def test_onnxruntime_matches_pytorch_at_two_batch_sizes(tmp_path, modality):
    model = MODELS[modality]().eval()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = export_onnx(model, tmp_path / "model.onnx")
    side_effects = [str(w.message) for w in caught if "assigned during export" in str(w.message) or "side effects" in str(w.message)]
    assert not side_effects  # forward writes no module state (the image front-end's coordinate cache) while traced
    for batch_size, seq_len in ((1, 7), (4, 19)):
        inputs = example_inputs(model, batch_size, seq_len, seed=batch_size)
        if modality != "image" and batch_size > 1:
            assert inputs["attention_mask"][-1].sum() < seq_len  # padding present
        assert onnx_max_difference(model, path, inputs) <= 1e-4


@pytest.mark.slow
def test_export_cli_from_a_saved_folder(tmp_path):
    MODELS["text"]().save_pretrained(tmp_path / "saved")
    result = subprocess.run(
        [sys.executable, "-m", "vit_bert.export", str(tmp_path / "saved"), str(tmp_path / "m.onnx")],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "m.onnx").is_file()
    diffs = [float(line.rsplit("= ", 1)[1]) for line in result.stdout.splitlines() if "max |difference|" in line]
    assert len(diffs) == 2 and max(diffs) <= 1e-4
    bad = subprocess.run([sys.executable, "-m", "vit_bert.export", str(tmp_path / "missing"), "x.onnx"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "Traceback" not in bad.stderr


@pytest.mark.slow
def test_the_data_contract_travels_into_the_onnx_metadata(tmp_path):
    from vit_bert.config import DataContract
    from vit_bert.export import read_contract_metadata

    model = MODELS["image"]()
    assert read_contract_metadata(export_onnx(model, tmp_path / "plain.onnx")) is None
    contract = DataContract("image", list("abcde"), in_chans=3, img_size=32, mean=[0.1, 0.2, 0.3], std=[0.4, 0.5, 0.6])
    model.set_data_contract(contract)
    assert read_contract_metadata(export_onnx(model, tmp_path / "model.onnx")) == contract
