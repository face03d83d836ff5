"""vit-bert prepare: data sets written once as LitData shards, and read wherever a data root is accepted, as the folder
they were made from reads (same batches, same contract), split over ranks without overlap."""

import json
import os
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from test_streamed_images import photo_folder
from text_data import sentences, write_splits
from vit_bert.commands import main
from vit_bert.data import ImageDataModule, TextDataModule
from vit_bert.data.prepare import prepare
from vit_bert.data.prepared import read_manifest
from vit_bert.data.splits import split_off
from vit_bert.data.streams import ShardSentences, stream_loader
from vit_bert.data.text_files import TextRows
from vit_bert.errors import ConfigError, DataError
from vit_bert.tokenizer import TextTokenizer, train_wordpiece


def eval_batches(module, split: str = "test") -> list[dict]:
    module.setup("test")
    loader = module.test_dataloader() if split == "test" else module.val_dataloader()
    return [module.on_after_batch_transfer(batch, 0) for batch in loader]


def assert_same_batches(ours: list[dict], theirs: list[dict]) -> None:
    assert len(ours) == len(theirs) > 0
    for a, b in zip(ours, theirs):
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])]


def test_labelled_text_reads_as_the_folder_it_was_prepared_from(tmp_path):
    source = write_splits(tmp_path / "sst", "tsv", n_train=120, n_test=30)
    prepare(str(source), str(tmp_path / "out"), text_column="sentence", val_fraction=0.2, seed=3)
    manifest = read_manifest(str(tmp_path / "out"))
    assert (manifest.modality, manifest.packing, manifest.class_names) == ("text", "sentences", ["0", "1"])
    assert manifest.splits == {"train": 96, "val": 24, "test": 30}
    options = dict(text_column="sentence", max_length=9, batch_size=8, val_fraction=0.2, seed=3)
    # the folder path with the tokenizer the shards were made with: the same ids, batches, labels and contract
    folder = TextDataModule(root=str(source), tokenizer=str(tmp_path / "out/tokenizer.json"), **options)
    shards = TextDataModule(root=str(tmp_path / "out"), **options)
    assert shards.contract == folder.contract
    assert_same_batches(eval_batches(shards), eval_batches(folder))
    assert_same_batches(eval_batches(shards, "val"), eval_batches(folder, "val"))  # the same texts held out


def test_a_long_text_is_cut_to_max_length_when_read_keeping_its_sep(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src/train.tsv").write_text("text\tlabel\n" + "".join(f"{' '.join(['good'] * n)}\t{n % 2}\n" for n in range(1, 21)))
    (tmp_path / "src/test.tsv").write_text("text\tlabel\n" + "good good good good good good\t0\ngood\t1\n")
    prepare(str(tmp_path / "src"), str(tmp_path / "out"), val_fraction=0.1)
    module = TextDataModule(root=str(tmp_path / "out"), max_length=4, batch_size=2)
    batch = eval_batches(module)[0]
    cls, sep, pad = module.tokenizer.cls_id, module.tokenizer.sep_id, module.tokenizer.pad_id
    good = module.tokenizer.tokenizer.token_to_id("good")
    assert batch["input_ids"].tolist() == [[cls, good, good, sep], [cls, good, sep, pad]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 1, 0]]


def test_unlabelled_text_is_packed_into_full_blocks_of_max_length(tmp_path):
    texts = [t for t, _ in sentences(300)]
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus/train.txt").write_text("\n".join(texts) + "\n")
    tokenizer = train_wordpiece(texts, 120)
    tokenizer.save(str(tmp_path / "tok.json"))
    prepare(str(tmp_path / "corpus"), str(tmp_path / "out"), tokenizer=str(tmp_path / "tok.json"), val_fraction=0.1, num_workers=1)
    manifest = read_manifest(str(tmp_path / "out"))
    assert manifest.packing == "blocks" and manifest.class_names == []
    ids, _ = TextTokenizer(tokenizer, 10**6).encode(texts)
    assert manifest.splits["train"] + manifest.splits["val"] == sum(map(len, ids))  # every token of every text, [CLS]/[SEP] too
    module = TextDataModule(root=str(tmp_path / "out"), label_column=None, max_length=16, batch_size=4)
    blocks = [b for batch in eval_batches(module, "val") for b in batch["input_ids"]]
    assert len(blocks) == manifest.splits["val"] // 16 and all(b.shape == (16,) for b in blocks)
    assert all(bool(b["attention_mask"].all()) and bool((b["labels"] == -1).all()) for b in eval_batches(module, "val"))
    # the stream is the held-out texts' ids one after the other, [CLS] ... [SEP] each, cut into blocks
    _, held_out = split_off(TextRows(texts, [None] * len(texts)), 0.1, seed=0)
    concatenated = [i for seq in TextTokenizer(tokenizer, 10**6).encode(held_out.texts)[0] for i in seq]
    assert torch.cat(blocks).tolist() == concatenated[: len(blocks) * 16]


def test_prepare_refuses_what_it_cannot_do_well(tmp_path):
    source = write_splits(tmp_path / "sst", "tsv", n_train=40, n_test=10)
    prepare(str(source), str(tmp_path / "out"), text_column="sentence")
    before = (tmp_path / "out/prepared.json").read_text()
    with pytest.raises(ConfigError, match="already exists and holds files; pass --overwrite"):
        prepare(str(source), str(tmp_path / "out"), text_column="sentence")
    with pytest.raises(ConfigError, match="is labelled: packing texts into blocks would mix their labels"):
        prepare(str(source), str(tmp_path / "other"), text_column="sentence", pack=True)
    assert not (tmp_path / "other").exists()
    with pytest.raises(ConfigError, match="neither the text column 'text' nor the image column 'image'"):
        prepare(str(source), str(tmp_path / "other"))
    with pytest.raises(ConfigError, match="is or holds the source"):
        prepare(str(source), str(source / "shards"), text_column="sentence")
    assert (tmp_path / "out/prepared.json").read_text() == before and not list(tmp_path.glob(".out.*"))
    prepare(str(source), str(tmp_path / "out"), text_column="sentence", val_fraction=0.5, overwrite=True)
    assert read_manifest(str(tmp_path / "out")).splits["val"] == 20 and not list(tmp_path.glob(".out.*"))
    with pytest.raises(DataError, match="was prepared without labels|holds text shards; an image"):
        ImageDataModule("folder", root=str(tmp_path / "out")).load()
    with pytest.raises(DataError, match="another vocabulary"):
        tokenizer = train_wordpiece(["other words entirely"] * 5, 40)
        tokenizer.save(str(tmp_path / "other.json"))
        TextDataModule(root=str(tmp_path / "out"), tokenizer=str(tmp_path / "other.json")).load()


def test_photos_read_from_shards_as_from_their_folder(tmp_path):
    photo_folder(tmp_path / "photos", per_class=8)
    prepare(str(tmp_path / "photos"), str(tmp_path / "out"), val_fraction=0.25)
    manifest = read_manifest(str(tmp_path / "out"))
    assert manifest.splits == {"train": 12, "val": 4, "test": 16} and manifest.class_names == ["cat", "dog"]
    stored = sum(f.stat().st_size for f in (tmp_path / "out").rglob("*.bin"))
    files = sum(f.stat().st_size for f in (tmp_path / "photos").rglob("*.jpg"))
    assert files <= stored < files * 1.1  # the encoded files, not decoded pixels
    options = dict(image_size=16, batch_size=4, val_fraction=0.25, num_workers=0)
    folder = ImageDataModule("folder", root=str(tmp_path / "photos"), pipeline="stream", **options)
    shards = ImageDataModule("folder", root=str(tmp_path / "out"), **options)
    assert shards.contract == folder.contract  # mean and std measured on the same training images
    assert_same_batches(eval_batches(shards), eval_batches(folder))
    with pytest.raises(ConfigError, match="prepared folder, streamed from its shards"):
        ImageDataModule("prepared", root=str(tmp_path / "out"), pipeline="memory").load()


def test_an_unreadable_photo_stops_prepare_with_its_name_or_is_left_out(tmp_path):
    photo_folder(tmp_path / "photos", per_class=4)
    (tmp_path / "photos/train/cat/broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match=r"broken.jpg is not a readable image .*--skip_corrupt to leave"):
        prepare(str(tmp_path / "photos"), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()
    prepare(str(tmp_path / "photos"), str(tmp_path / "out"), skip_corrupt=True, val_fraction=0.25)
    assert read_manifest(str(tmp_path / "out")).splits["train"] + read_manifest(str(tmp_path / "out")).splits["val"] == 8


def _rank_samples(rank: int, world: int, shards: str, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        seen = []
        for epoch in range(2):
            loader = stream_loader(ShardSentences(shards, seed=0, train=True), batch_size=4, num_workers=0,
                                   collate_fn=lambda items: [tuple(i["input_ids"].tolist()) for i in items])
            loader.current_epoch = epoch
            seen.append([ids for batch in loader for ids in batch])
        evaluation = stream_loader(ShardSentences(shards, seed=0, train=False), batch_size=4, num_workers=0,
                                   collate_fn=lambda items: [tuple(i["input_ids"].tolist()) for i in items])
        seen.append([ids for batch in evaluation for ids in batch])
        Path(out, f"rank{rank}.json").write_text(json.dumps(seen))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_ranks_train_on_disjoint_halves_whose_union_is_the_epoch_and_evaluate_on_all(tmp_path):
    texts = [f"text number {i} " + " ".join(["word"] * (i % 5)) for i in range(101)]  # 91 for training
    (tmp_path / "src").mkdir()
    (tmp_path / "src/train.txt").write_text("\n".join(texts) + "\n")
    prepare(str(tmp_path / "src"), str(tmp_path / "out"), pack=False, val_fraction=0.1)
    train = read_manifest(str(tmp_path / "out")).splits["train"]
    port = 29500 + os.getpid() % 1000
    mp.spawn(_rank_samples, args=(2, str(tmp_path / "out/train"), port, str(tmp_path)), nprocs=2)
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    for epoch in range(2):
        a, b = (set(map(tuple, ranks[r][epoch])) for r in range(2))
        assert len(ranks[0][epoch]) == len(ranks[1][epoch])  # the same number of steps on every rank
        assert not a & b  # disjoint
        # the epoch: every sample once, less the few (under 2 ranks x batch 4) that would make the ranks' steps unequal
        assert len(a | b) == 2 * len(ranks[0][epoch]) > train - 2 * 4
    assert ranks[0][0] != ranks[0][1]  # a new order each epoch
    # evaluation is not split: each rank reads the whole split, in order, so metrics summed over ranks are one process's
    whole = set(map(tuple, ranks[0][2]))
    assert ranks[0][2] == ranks[1][2] and len(whole) == len(ranks[0][2]) == train and a | b < whole


def test_vit_bert_prepare_on_the_command_line(tmp_path, capsys):
    write_splits(tmp_path / "sst", "tsv", n_train=40, n_test=10)
    main(["prepare", str(tmp_path / "sst"), str(tmp_path / "out"), "--text_column", "sentence", "--val_fraction", "0.25"])
    assert f"wrote {tmp_path / 'out'}: text, train 30, val 10, test 10 texts" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stopped:
        main(["prepare", str(tmp_path / "sst"), str(tmp_path / "out"), "--text_column", "sentence"])
    assert stopped.value.code != 0
    assert capsys.readouterr().err.strip() == (f"error: {tmp_path / 'out'} already exists and holds files; pass --overwrite to replace it, "
                                               "or another folder")

def _killed_and_resumed(tmp_path, args: list[str], name: str, module: str, kill_at: int, ddp: bool = False) -> str:
    """One run killed by SIGKILL after ``kill_at`` steps and resumed with --ckpt_path last, against an uninterrupted one."""
    from test_resume import assert_same_training_state, finish, last, reference_run, train_py

    reference = reference_run(*args, cwd=tmp_path / "full")
    (tmp_path / "chain").mkdir()
    group = ["--trainer.callbacks.group", "true"] if ddp else []
    killed = train_py(*args, "--trainer.callbacks+=faults.KillAtStep", "--trainer.callbacks.step", str(kill_at), *group,
                      cwd=tmp_path / "chain", new_session=ddp)
    assert killed.returncode == -9, killed.stderr[-3000:]
    saved = last(tmp_path / "chain", name, 0)
    assert 0 < saved["global_step"] <= kill_at and saved[module]["stream"]["num_samples_yielded"]  # a position in the shards
    resumed = train_py(*args, "--ckpt_path", "last", cwd=tmp_path / "chain")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming with another" not in resumed.stderr and "starts afresh" not in resumed.stderr
    full = finish(reference)
    assert full.returncode == 0, full.stderr[-3000:]
    assert_same_training_state(last(tmp_path / "chain", name, 1), last(tmp_path / "full", name, 0))
    return full.stderr


IMAGE = ["--model.config.patch_size", "2", "--model.config.dim", "32", "--model.config.depth", "2", "--model.config.heads", "2",
         "--model.config.dropout", "0.1", "--model.config.drop_path", "0.1", "--data.image_size", "8", "--data.batch_size", "4",
         "--data.auto_augment", "rand-m9-mstd0.5", "--data.re_prob", "0.5", "--trainer.max_epochs", "2",
         "--trainer.limit_train_batches", "5", "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
         "--last_every_n_steps", "2"]


@pytest.mark.slow
def test_a_killed_run_on_photo_shards_with_two_workers_resumes_bit_identical(tmp_path):
    photo_folder(tmp_path / "photos", per_class=12)
    prepare(str(tmp_path / "photos"), str(tmp_path / "shards"))
    args = [*IMAGE, "--data.dataset", "prepared", "--data.root", str(tmp_path / "shards"), "--data.num_workers", "2"]
    _killed_and_resumed(tmp_path, args, "quickstart", "ImageDataModule", kill_at=3)


def _masked_token_run(tmp_path, texts: int) -> list[str]:
    rows = [t for t, _ in sentences(texts)]
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus/train.txt").write_text("\n".join(rows) + "\n")
    prepare(str(tmp_path / "corpus"), str(tmp_path / "shards"), tokenizer_vocab_size=120)
    return ["--config", "mlm_pretrain", "--data.root", str(tmp_path / "shards"), "--model.preset", "bert-tiny",
            "--data.max_length", "32", "--data.batch_size", "8", "--trainer.max_epochs", "2", "--trainer.enable_progress_bar", "false",
            "--trainer.enable_model_summary", "false", "--last_every_n_steps", "2"]


@pytest.mark.slow
def test_a_killed_masked_token_run_on_packed_text_shards_resumes_bit_identical(tmp_path):
    _killed_and_resumed(tmp_path, _masked_token_run(tmp_path, 600), "mlm_pretrain", "TextDataModule", kill_at=5)


@pytest.mark.slow
def test_a_killed_two_process_masked_token_run_on_text_shards_resumes_bit_identical(tmp_path):
    ddp = ["--trainer.strategy", "ddp", "--trainer.devices", "2", "--trainer.accelerator", "cpu"]
    _killed_and_resumed(tmp_path, [*_masked_token_run(tmp_path, 300), *ddp], "mlm_pretrain", "TextDataModule", kill_at=3, ddp=True)


@pytest.mark.slow
def test_a_killed_two_process_ddp_run_on_photo_shards_resumes_bit_identical(tmp_path):
    photo_folder(tmp_path / "photos", per_class=16)
    prepare(str(tmp_path / "photos"), str(tmp_path / "shards"))
    args = [*IMAGE, "--data.root", str(tmp_path / "shards"), "--data.dataset", "prepared", "--data.num_workers", "0",
            "--trainer.strategy", "ddp", "--trainer.devices", "2", "--trainer.accelerator", "cpu"]
    _killed_and_resumed(tmp_path, args, "quickstart", "ImageDataModule", kill_at=3, ddp=True)


def test_a_hugging_face_dataset_folder_is_prepared_once_told_its_modality(tmp_path):
    datasets = pytest.importorskip("datasets")
    rows = sentences(50)
    parts = {split: datasets.Dataset.from_dict({"sentence": [t for t, _ in part], "label": [int(y == "pos") for _, y in part]},
                                               features=datasets.Features({"sentence": datasets.Value("string"),
                                                                           "label": datasets.ClassLabel(names=["neg", "pos"])}))
             for split, part in (("train", rows[:40]), ("test", rows[40:]))}
    datasets.DatasetDict(parts).save_to_disk(str(tmp_path / "hf"))
    with pytest.raises(ConfigError, match="is a Hugging Face dataset folder: pass --modality"):
        prepare(str(tmp_path / "hf"), str(tmp_path / "out"), text_column="sentence")
    prepare(str(tmp_path / "hf"), str(tmp_path / "out"), modality="text", text_column="sentence")
    manifest = read_manifest(str(tmp_path / "out"))
    assert manifest.class_names == ["neg", "pos"] and manifest.splits == {"train": 36, "val": 4, "test": 10}


def _unlabelled_shards(tmp_path, n: int = 60) -> str:
    (tmp_path / "src").mkdir()
    (tmp_path / "src/train.txt").write_text("\n".join(f"line {i} " + "word " * (i % 4) for i in range(n)) + "\n")
    prepare(str(tmp_path / "src"), str(tmp_path / "out"), pack=False, val_fraction=0.1)
    return str(tmp_path / "out")


def _ids(batch: dict) -> list:
    return [tuple(row[row != 0].tolist()) for row in batch["input_ids"]]


@pytest.mark.slow
def test_the_saved_position_follows_the_batches_trained_on_not_those_fetched_ahead(tmp_path, caplog):
    root = _unlabelled_shards(tmp_path)
    module = TextDataModule(root=root, label_column=None, batch_size=4)
    module.setup("fit")
    full = [_ids(b) for b in module.train_dataloader()]
    interrupted = TextDataModule(root=root, label_column=None, batch_size=4)
    interrupted.setup("fit")
    batches = iter(interrupted.train_dataloader())
    taken = [_ids(next(batches)) for _ in range(4)]  # Lightning fetches one ahead: 4 fetched, 3 trained on
    for _ in range(3):
        interrupted.train_stream.took()
    state = interrupted.state_dict()
    assert taken == full[:4] and state["stream"]["num_samples_yielded"] == 12
    resumed = TextDataModule(root=root, label_column=None, batch_size=4)
    resumed.load_state_dict(state)
    resumed.setup("fit")
    assert [_ids(b) for b in resumed.train_dataloader()] == full[3:]  # batch 4 again, none lost, none twice
    caplog.set_level("WARNING", "vit_bert")
    other = TextDataModule(root=root, label_column=None, batch_size=5)
    other.load_state_dict(state)
    other.setup("fit")
    assert len(list(other.train_dataloader())) == -(-sum(map(len, full)) // 5)  # the whole epoch, from its start
    assert "resuming with another data.batch_size (4 -> 5)" in caplog.text


@pytest.mark.slow
def test_a_table_of_image_paths_is_prepared_as_images(tmp_path):
    photo_folder(tmp_path / "photos", per_class=4)
    (tmp_path / "tables").mkdir()
    for split in ("train", "test"):  # paths relative to the table's folder
        rows = [f"../photos/{p.relative_to(tmp_path / 'photos')},{p.parent.name}" for p in sorted((tmp_path / "photos" / split).rglob("*.jpg"))]
        (tmp_path / "tables" / f"{split}.csv").write_text("image,label\n" + "\n".join(rows) + "\n")
    prepare(str(tmp_path / "tables"), str(tmp_path / "out"), val_fraction=0.25)
    manifest = read_manifest(str(tmp_path / "out"))
    assert manifest.modality == "image" and manifest.class_names == ["cat", "dog"] and manifest.splits == {"train": 6, "val": 2, "test": 8}
    folder = ImageDataModule("csv", root=str(tmp_path / "tables"), image_size=16, batch_size=4, val_fraction=0.25, pipeline="stream", num_workers=0)
    shards = ImageDataModule("csv", root=str(tmp_path / "out"), image_size=16, batch_size=4, val_fraction=0.25, num_workers=0)
    assert_same_batches(eval_batches(shards), eval_batches(folder))


def test_a_large_text_file_read_into_memory_points_to_prepare(tmp_path, caplog, monkeypatch):
    import vit_bert.data.text as text_module

    source = write_splits(tmp_path / "sst", "tsv", n_train=40, n_test=10)
    monkeypatch.setattr(text_module, "LARGE_TEXT", 1000)
    caplog.set_level("WARNING", "vit_bert")
    TextDataModule(root=str(source), text_column="sentence").load()
    assert f"MB of text are tokenized into memory before the first step; `vit-bert prepare {source} OUT`" in caplog.text
    caplog.clear()
    monkeypatch.setattr(text_module, "LARGE_TEXT", 10**9)
    TextDataModule(root=str(source), text_column="sentence").load()
    assert "vit-bert prepare" not in caplog.text
