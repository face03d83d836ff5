"""Co-training: one shared Encoder for an image task and a text task, from build_multitask to train.py and predict."""

from pathlib import Path

import pytest
import torch
from PIL import Image

import vit_bert
from vit_bert.config import DataContract
from vit_bert.multitask import MultiTaskModel
from vit_bert.tokenizer import train_wordpiece
from text_data import sentences, write_splits

ROOT = Path(__file__).resolve().parent.parent
TASKS = {
    "digits": {"modality": "image", "img_size": 8, "patch_size": 2, "in_chans": 1, "num_classes": 10},
    "sst2": {"modality": "text", "vocab_size": 80, "num_classes": 2, "max_len": 32},
}
SMALL = {"dim": 32, "depth": 2, "heads": 4, "mlp_ratio": 2.0}


def text_batch(batch: int = 3, length: int = 7) -> dict:
    ids = torch.randint(5, 80, (batch, length))
    mask = torch.ones_like(ids)
    mask[1:, -2:] = 0
    return {"input_ids": ids, "attention_mask": mask}


def test_the_public_contract_of_build_multitask():
    torch.manual_seed(0)
    model = vit_bert.build_multitask(encoder="bert-mini", tasks=TASKS)
    assert isinstance(model.encoder, vit_bert.layers.Encoder) and model.tasks == ["digits", "sst2"]
    assert model(torch.randn(4, 1, 8, 8), task="digits").shape == (4, 10)
    assert model(**text_batch(), task="sst2").shape == (3, 2)
    assert model.task_configs["sst2"].dim == 256 and model.task_configs["digits"].depth == 4  # bert-mini's encoder for both


def test_the_encoder_exists_once_and_both_tasks_train_it():
    model = vit_bert.build_multitask(encoder=SMALL, tasks=TASKS)
    encoder_keys = [k for k in model.state_dict() if "blocks.0.attn.qkv.weight" in k]
    assert encoder_keys == ["encoder.blocks.0.attn.qkv.weight"]  # one copy, not one per task
    views = [model.task_model(task) for task in model.tasks]
    assert all(view.encoder is model.encoder for view in views)
    qkv = model.encoder.blocks[0].attn.qkv.weight
    for task, inputs in (("digits", {"images": torch.randn(2, 1, 8, 8)}), ("sst2", text_batch())):
        model.zero_grad()
        model(**inputs, task=task).sum().backward()
        assert qkv.grad is not None and qkv.grad.abs().sum() > 0, task
        others = [name for name in model.heads if name != task]
        assert all(p.grad is None or p.grad.abs().sum() == 0 for name in others for p in model.heads[name].parameters())


def test_tasks_of_one_modality_share_a_front_end_when_their_fields_agree():
    tasks = {**TASKS, "digits_parity": {**TASKS["digits"], "num_classes": 2}, "big_digits": {**TASKS["digits"], "img_size": 16}}
    model = vit_bert.build_multitask(encoder=SMALL, tasks=tasks)
    assert model.frontend_of == {"digits": "digits", "sst2": "sst2", "digits_parity": "digits", "big_digits": "big_digits"}
    assert model(torch.randn(2, 1, 8, 8), task="digits_parity").shape == (2, 2)


def test_save_and_load_is_an_exact_round_trip(tmp_path):
    torch.manual_seed(0)
    model = vit_bert.build_multitask(encoder=SMALL, tasks=TASKS).eval()
    tokenizer = train_wordpiece([t for t, _ in sentences(100)], 80)
    text = DataContract("text", ["neg", "pos"], vocab_size=80, pad_token_id=0, max_length=32, tokenizer=tokenizer.to_str())
    model.set_data_contract("sst2", text)
    model.save_pretrained(tmp_path / "both")
    again = vit_bert.load_pretrained(tmp_path / "both").eval()
    assert isinstance(again, MultiTaskModel) and again.tasks == model.tasks
    images, words = torch.randn(2, 1, 8, 8), text_batch()
    assert torch.equal(again(images, task="digits"), model(images, task="digits"))
    assert torch.equal(again(**words, task="sst2"), model(**words, task="sst2"))
    assert again.task_model("sst2").class_names == ["neg", "pos"] and again.task_model("sst2").tokenizer.get_vocab_size() == 80
    assert "digits" not in again.data_contracts
    with pytest.raises(ValueError, match="is a multi-task model: load it without overrides"):
        vit_bert.load_pretrained(tmp_path / "both", num_classes=3)
    (tmp_path / "both" / "tokenizer.sst2.json").unlink()
    with pytest.raises(ValueError, match="text task 'sst2' of .* has no tokenizer: tokenizer.sst2.json is missing"):
        vit_bert.load_pretrained(tmp_path / "both")


def test_bad_input_names_the_task():
    model = vit_bert.build_multitask(encoder=SMALL, tasks=TASKS)
    with pytest.raises(ValueError, match="unknown task 'cifar'; this model has the tasks digits, sst2"):
        model(torch.randn(2, 1, 8, 8), task="cifar")
    with pytest.raises(ValueError, match="task 'sst2' reads text, but the batch is image"):
        model(torch.randn(2, 1, 8, 8), task="sst2")
    with pytest.raises(ValueError, match="task 'digits' reads image, but the batch is text"):
        model(**text_batch(), task="digits")
    with pytest.raises(ValueError, match="task 'sst2' sets dim=64, but the shared encoder has dim=32"):
        vit_bert.build_multitask(encoder=SMALL, tasks={**TASKS, "sst2": {**TASKS["sst2"], "dim": 64}})
    with pytest.raises(ValueError, match="task 'sst2' .text. has fields \\['patch_size'\\] that are not its front-end's or head's"):
        vit_bert.build_multitask(encoder=SMALL, tasks={**TASKS, "sst2": {**TASKS["sst2"], "patch_size": 4}})
    with pytest.raises(ValueError, match="task 'x' must say its modality"):
        vit_bert.build_multitask(encoder=SMALL, tasks={"x": {"num_classes": 2}})
    with pytest.raises(ValueError, match="task name 'a.b' must be a word"):
        vit_bert.build_multitask(encoder=SMALL, tasks={"a.b": TASKS["digits"]})


def test_a_task_name_given_twice_in_a_config_stops_train_py(tmp_path, capsys):
    from vit_bert.commands import train_py as main

    config = tmp_path / "twice.yaml"
    config.write_text("model:\n  class_path: MultiTaskClassification\ndata:\n  init_args:\n    tasks:\n      sst2: {}\n      sst2: {}\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["--config", str(config)])
    assert exit_info.value.code == 2
    assert "twice.yaml line 7: 'sst2' appears twice in one mapping" in capsys.readouterr().err


def digits_and_sst2_contracts() -> dict[str, DataContract]:
    """What the digits and a small SST-2 (a WordPiece of 80 ids) decide, for a co-trained task built without data."""
    tokenizer = train_wordpiece([t for t, _ in sentences(100)], 80)
    return {
        "digits": DataContract("image", [str(i) for i in range(10)], in_chans=1, img_size=8, mean=[0.3], std=[0.4]),
        "sst2": DataContract("text", ["neg", "pos"], vocab_size=80, pad_token_id=0, max_length=32, tokenizer=tokenizer.to_str()),
    }


def test_the_shared_encoder_starts_from_a_hugging_face_bert(tmp_path, caplog):
    transformers = pytest.importorskip("transformers")
    config = transformers.BertConfig(vocab_size=80, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                                     max_position_embeddings=32)
    torch.manual_seed(0)
    transformers.BertModel(config).save_pretrained(tmp_path / "bert")
    from vit_bert.training.multitask import MultiTaskClassification

    contracts = digits_and_sst2_contracts()
    with caplog.at_level("INFO"):
        task = MultiTaskClassification(tasks={"digits": {"patch_size": 2}, "sst2": {"max_len": 32, "type_vocab_size": 2}},
                                       data_contract=contracts, pretrained=str(tmp_path / "bert"))
    bert = vit_bert.load_pretrained(tmp_path / "bert")
    assert torch.equal(task.model.encoder.blocks[1].mlp.fc1.weight, bert.encoder.blocks[1].mlp.fc1.weight)
    assert torch.equal(task.model.frontends["sst2"].word_embeddings.weight, bert.frontend.word_embeddings.weight)
    assert "task 'digits': its image front-end starts fresh" in caplog.text and "task 'sst2': its front-end starts from" in caplog.text
    with pytest.raises(ValueError, match="model.encoder has dim=64, but the pretrained encoder has dim=32"):
        MultiTaskClassification(encoder={"dim": 64}, data_contract=contracts, pretrained=str(tmp_path / "bert"))
    with pytest.raises(ValueError, match=r"model.tasks names \['imdb'\], which data.tasks does not have"):
        MultiTaskClassification(encoder=SMALL, tasks={"imdb": {}}, data_contract=contracts)


def test_the_shared_encoder_starts_from_a_modernbert_with_its_rotary_positions(tmp_path, caplog):
    """The encoder brings its rotary bases, window and GeGLU; the text task whose front-end fields match (no position
    table, no token types, no norm bias) starts from the folder's embeddings; the image task reads the same rotary
    encoder with its patch grid."""
    transformers = pytest.importorskip("transformers")
    config = transformers.ModernBertConfig(vocab_size=80, hidden_size=32, intermediate_size=48, num_hidden_layers=3, num_attention_heads=4,
                                           max_position_embeddings=32, local_attention=8, pad_token_id=0, bos_token_id=1, eos_token_id=2,
                                           cls_token_id=1, sep_token_id=2)
    torch.manual_seed(0)
    transformers.ModernBertModel(config).save_pretrained(tmp_path / "modernbert")
    from vit_bert.training.multitask import MultiTaskClassification

    contracts = digits_and_sst2_contracts()
    text = {"max_len": 32, "type_vocab_size": 0, "learned_positions": False}
    with caplog.at_level("INFO"):
        task = MultiTaskClassification(tasks={"digits": {"patch_size": 2}, "sst2": text}, data_contract=contracts,
                                       pretrained=str(tmp_path / "modernbert"))
    source = vit_bert.load_pretrained(tmp_path / "modernbert")
    shared = task.model
    assert (shared.encoder.config.rope_theta, shared.encoder.config.local_window) == (160_000.0, 8)
    assert torch.equal(shared.encoder.blocks[2].mlp.fc1.weight, source.encoder.blocks[2].mlp.fc1.weight)
    assert torch.equal(shared.frontends["sst2"].word_embeddings.weight, source.frontend.word_embeddings.weight)
    assert "task 'sst2': its front-end starts from" in caplog.text
    ids, mask = torch.randint(3, 80, (2, 12)), torch.ones(2, 12, dtype=torch.long)
    with torch.no_grad():
        shared.eval(), source.eval()
        assert torch.allclose(shared.task_model("sst2").forward_features(ids, attention_mask=mask),
                              source.forward_features(ids, attention_mask=mask), atol=1e-6)
        assert shared(torch.randn(2, 1, 8, 8), task="digits").shape == (2, 10)


@pytest.mark.slow
def test_co_training_through_train_py_then_predict_export_and_viz(tmp_path, monkeypatch, capsys):
    from vit_bert.cli import run
    from vit_bert.commands import train_py as main

    monkeypatch.chdir(tmp_path)
    write_splits(tmp_path / "text", "tsv", n_train=200, n_test=40)
    cli = run(["--config", str(ROOT / "configs/cotrain_cifar10_sst2.yaml"), "--data.tasks.cifar10.init_args.dataset", "digits",
               "--data.tasks.sst2.init_args.root", "text", "--data.tasks.sst2.init_args.tokenizer_vocab_size", "120",
               "--model.tasks", "{cifar10: {patch_size: 2}, sst2: {max_len: 64}}", "--model.encoder", "{dim: 32, depth: 2, heads: 4}",
               "--trainer.max_epochs", "4", "--trainer.max_time", "null", "--trainer.enable_progress_bar", "false",
               "--trainer.callbacks+=vit_bert.viz.AttentionFigureCallback", "--trainer.callbacks.every_n_epochs", "2"])
    out = capsys.readouterr().out
    per_task = {line.split(":")[0].strip(): float(line.split(":")[1]) for line in out.splitlines() if line.startswith("  test_acc/")}
    assert set(per_task) == {"test_acc/cifar10", "test_acc/sst2"}
    mean = float(out.split("test accuracy, mean over the tasks: ")[1].split()[0])
    assert mean == pytest.approx(sum(per_task.values()) / 2, abs=1e-4)
    assert per_task["test_acc/sst2"] > 0.7 and per_task["test_acc/cifar10"] > 0.15  # both above chance (0.5 and 0.1; 180 test digits)
    figures = sorted(p.name for p in (Path(cli.trainer.log_dir) / "attention").glob("*.png"))
    assert figures == ["epoch001.cifar10.png", "epoch001.sst2.png", "epoch003.cifar10.png", "epoch003.sst2.png"]

    best = cli.best_checkpoint
    model = vit_bert.load_pretrained(best)
    assert isinstance(model, MultiTaskModel) and model.tasks == ["cifar10", "sst2"]
    digit = tmp_path / "seven.png"
    from sklearn.datasets import load_digits

    pixels = load_digits().images[7]
    Image.fromarray((pixels * 255 / 16).astype("uint8")).save(digit)
    main(["predict", best, str(digit), "a wonderful moving film"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == [str(digit), "a wonderful moving film"]
    assert lines[0].split("\t")[1] in [str(i) for i in range(10)] and lines[1].split("\t")[1] in ("0", "1")
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", best, "--task", "imagenet", "a film"])
    assert exit_info.value.code == 2 and "unknown task 'imagenet'; this model has the tasks cifar10, sst2" in capsys.readouterr().err

    from vit_bert.commands import main as vit_bert_main

    vit_bert_main(["viz", best, str(digit), "--out", "digit.png"])  # the image task's attention, chosen by the input
    assert "wrote digit.png" in capsys.readouterr().out and Path("digit.png").stat().st_size > 1000


@pytest.mark.slow
def test_onnx_export_writes_one_graph_per_task(tmp_path, capsys):
    pytest.importorskip("onnxscript")
    pytest.importorskip("onnxruntime")
    from vit_bert.commands import main as vit_bert_main

    vit_bert.build_multitask(encoder=SMALL, tasks=TASKS).save_pretrained(tmp_path / "both")
    vit_bert_main(["export", str(tmp_path / "both"), str(tmp_path / "model.onnx")])
    out = capsys.readouterr().out
    assert (tmp_path / "model.digits.onnx").is_file() and (tmp_path / "model.sst2.onnx").is_file()
    differences = [float(line.split("= ")[1]) for line in out.splitlines() if "max |difference|" in line]
    assert len(differences) == 4 and max(differences) < 1e-4


def test_one_task_batches_take_the_tasks_in_turn_and_restart_the_smaller():
    from vit_bert.data.multitask import RoundRobin

    rounds = RoundRobin({"a": [1, 2, 3], "b": ["x", "y"]})
    assert len(rounds) == 6
    assert list(rounds) == [{"a": 1}, {"b": "x"}, {"a": 2}, {"b": "y"}, {"a": 3}, {"b": "x"}]


def cotrain_argv(*extra: str) -> list[str]:
    return ["--config", str(ROOT / "configs/cotrain_cifar10_sst2.yaml"), "--data.tasks.cifar10.init_args.dataset", "digits",
            "--data.tasks.sst2.init_args.root", "text", "--data.tasks.sst2.init_args.tokenizer_vocab_size", "120",
            "--model.tasks", "{cifar10: {patch_size: 2}, sst2: {max_len: 64}}", "--model.encoder", "{dim: 32, depth: 2, heads: 4}",
            "--trainer.max_time", "null", "--trainer.enable_progress_bar", "false", *extra]


def test_one_task_steps_and_a_learning_rate_per_task_through_train_py(tmp_path, monkeypatch):
    from lightning.pytorch.callbacks import Callback

    from vit_bert.cli import build_cli, run

    class Seen(Callback):
        def __init__(self):
            self.tasks, self.lrs = [], None

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            self.tasks.append(list(batch))
            self.lrs = self.lrs or [(g["initial_lr"], len(g["params"])) for g in trainer.optimizers[0].param_groups]

    monkeypatch.chdir(tmp_path)
    write_splits(tmp_path / "text", "tsv", n_train=200, n_test=40)
    seen = Seen()
    cli = run(cotrain_argv("--data.batches", "one_task", "--model.task_lr", "{cifar10: 0.01}", "--model.lr", "0.001",
                           "--trainer.max_steps", "5", "--trainer.limit_val_batches", "0"), [seen])
    assert seen.tasks == [["cifar10"], ["sst2"], ["cifar10"], ["sst2"], ["cifar10"]]
    assert cli.datamodule.hparams.batch_size == (64 + 8) / 2  # samples per step on average, for train.py's samples/s
    model = cli.model.model
    fast = {id(p) for p in [*model.frontends["cifar10"].parameters(), *model.heads["cifar10"].parameters()]}
    groups = cli.trainer.optimizers[0].param_groups
    assert {id(p) for g in groups if g["initial_lr"] == 0.01 for p in g["params"]} == fast  # the image task's own parts
    assert all(g["initial_lr"] == 0.001 for g in groups if not {id(p) for p in g["params"]} & fast)  # encoder, text front-end
    with pytest.raises(ValueError, match=r"model.task_lr names \['imagenet'\].*the tasks are cifar10, sst2"):
        build_cli(cotrain_argv("--model.task_lr", "{imagenet: 0.01}", "--trainer.max_steps", "1"))


@pytest.mark.slow
def test_co_training_from_an_image_checkpoint_trains_the_text_tokenizer(tmp_path, monkeypatch, capsys):
    from vit_bert.cli import build_cli, run

    monkeypatch.chdir(tmp_path)
    write_splits(tmp_path / "text", "tsv", n_train=200, n_test=40)
    image = run(["--config", str(ROOT / "configs/mim_pretrain.yaml"), "--data.dataset", "digits", "--trainer.max_steps", "2",
                 "--model.config.dim", "32", "--model.config.depth", "2", "--trainer.enable_progress_bar", "false"])
    ckpt = Path(image.trainer.log_dir) / "checkpoints/last.ckpt"
    cli = build_cli(cotrain_argv("--model.pretrained", str(ckpt), "--model.encoder", "null",
                                 "--model.tasks", "{cifar10: {patch_size: 2, pos_embed: sincos}, sst2: {max_len: 64}}",
                                 "--trainer.max_steps", "1"))
    assert cli.datamodule.tasks["sst2"].hparams.tokenizer is None  # trained on the data, not asked of the image checkpoint
    pretrained = vit_bert.load_pretrained(ckpt)
    assert torch.equal(cli.model.model.encoder.blocks[0].attn.qkv.weight, pretrained.encoder.blocks[0].attn.qkv.weight)
    assert torch.equal(cli.model.model.frontends["cifar10"].patch_embed.proj.weight, pretrained.frontend.patch_embed.proj.weight)
