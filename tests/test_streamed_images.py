"""The streamed image path: which path a folder takes, its sources, seeded augmentation, and evaluation as timm's."""

import logging
import os

import numpy as np
import pytest
import timm
import torch
from PIL import Image
from timm.data import create_transform, resolve_data_config

import vit_bert
from vit_bert.data import DataError, ImageDataModule
from vit_bert.data import image as image_module
from vit_bert.errors import ConfigError
from vit_bert.predict import InputReader

RNG = np.random.default_rng(0)


def photo(path, width, height, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, quality=90)
    return path


def photo_folder(root, per_class=6, sizes=None):
    """train/ and test/ with two classes of photos; sizes (w, h) cycle through ``sizes`` (default: all different)."""
    n = 0
    for split in ("train", "test"):
        for name in ("cat", "dog"):
            for i in range(per_class):
                w, h = sizes[n % len(sizes)] if sizes else (40 + 7 * n % 50, 30 + 5 * n % 40)
                photo(root / split / name / f"{i}.jpg", w, h, seed=n)
                n += 1
    return root


def test_auto_streams_photos_of_many_sizes_and_keeps_small_uniform_ones_in_memory(tmp_path, caplog, monkeypatch):
    caplog.set_level(logging.INFO, "vit_bert")
    mixed = ImageDataModule("folder", root=str(photo_folder(tmp_path / "mixed")), image_size=32)
    assert mixed.contract.img_size == 32 and mixed.pipeline == "stream"
    assert "image data" not in caplog.text  # said when training sets up, after any config error
    mixed.setup()
    assert "image data: streamed (the images have different sizes" in caplog.text
    cores = min(8, len(os.sched_getaffinity(0)))
    assert f"; {cores} DataLoader worker(s) (one per core; data.num_workers sets it)" in caplog.text
    uniform = photo_folder(tmp_path / "uniform", sizes=[(24, 24)])
    small = ImageDataModule("folder", root=str(uniform))
    small.setup()
    assert small.contract.img_size == 24 and small.pipeline == "memory" and small.loader_workers == 0
    assert "in memory (24 images of 24x24 take 0 MiB decoded" in caplog.text
    monkeypatch.setattr(image_module, "MEMORY_BUDGET", 1000)
    big = ImageDataModule("folder", root=str(uniform), image_size=24)
    big.setup()
    assert big.contract.img_size == 24 and big.pipeline == "stream"
    assert "24 images of 24x24 would take 0.0 GiB decoded" in caplog.text
    forced = ImageDataModule("folder", root=str(uniform), pipeline="memory")
    assert forced.contract and forced.pipeline == "memory"


def test_streamed_images_take_the_models_size_else_ask_for_one(tmp_path):
    root = str(photo_folder(tmp_path))
    with pytest.raises(ConfigError, match=r"cropped to the model's input size: set --data.image_size"):
        ImageDataModule("folder", root=root).load()
    given = {"img_size": 48, "mean": [0.5, 0.4, 0.3], "std": [0.2, 0.2, 0.2], "crop_pct": 0.9, "interpolation": "bilinear"}
    contract = ImageDataModule("folder", root=root, model_data_config=given).contract
    assert (contract.img_size, contract.mean, contract.std, contract.crop_pct, contract.interpolation) == (48, *list(given.values())[1:])
    own = ImageDataModule("folder", root=root, image_size=40, crop_pct=1.0, model_data_config=given).contract
    assert (own.img_size, own.crop_pct, own.mean) == (40, 1.0, given["mean"])  # options set win over the model's


def test_a_training_sample_is_the_same_whatever_worker_reads_it_and_after_a_resume(tmp_path):
    root = str(photo_folder(tmp_path))
    options = dict(image_size=32, batch_size=4, auto_augment="rand-m9-mstd0.5", re_prob=0.5, val_fraction=0.0)

    def batches(workers, resume=None):
        dm = ImageDataModule("folder", root=root, num_workers=workers, **options)
        dm.setup()
        loader = dm.train_dataloader()
        if resume is not None:
            dm.train_sampler.resume(0, resume)
        return [b["images"] for b in loader]

    alone, two_workers = batches(0), batches(2)
    assert len(alone) == 3 and all(torch.equal(a, b) for a, b in zip(alone, two_workers))
    resumed = batches(2, resume=4)
    assert len(resumed) == 2 and all(torch.equal(a, b) for a, b in zip(alone[1:], resumed))
    dm = ImageDataModule("folder", root=root, num_workers=0, **options)
    dm.setup()
    loader = dm.train_dataloader()
    dm.train_sampler.set_epoch(1)
    assert not torch.equal(next(iter(loader))["images"], alone[0])  # another epoch: other crops


def test_evaluation_reads_a_photo_as_timms_own_eval_transform(tmp_path):
    path = photo(tmp_path / "wide.jpg", 520, 300)
    timm_model = timm.create_model("vit_small_patch16_224", pretrained=False, num_classes=3)
    expected = create_transform(**resolve_data_config({}, model=timm_model))(Image.open(path).convert("RGB"))
    model = vit_bert.load_pretrained(timm_model)
    assert (model.data_contract.crop_pct, model.data_contract.interpolation) == (0.9, "bicubic")
    reader = InputReader("timm", model=model)
    assert torch.equal(reader.batch([path])["images"][0], expected)
    model.save_pretrained(tmp_path / "saved")  # the contract travels with the weights
    assert torch.equal(InputReader(str(tmp_path / "saved")).batch([path])["images"][0], expected)
    for split in ("train", "test"):
        for name in ("a", "b"):
            photo(tmp_path / "data" / split / name / "0.jpg", 300 + 40 * len(split), 200, seed=len(name))
    (tmp_path / "data/test/a/0.jpg").write_bytes(path.read_bytes())
    contract = model.data_contract
    dm = ImageDataModule("folder", root=str(tmp_path / "data"), val_fraction=0.0, batch_size=1, pipeline="stream",
                         model_data_config={"img_size": 224, "mean": contract.mean, "std": contract.std, "crop_pct": 0.9,
                                            "interpolation": "bicubic"})
    dm.setup()
    first = dm.on_after_batch_transfer(next(iter(dm.test_dataloader())), 0)["images"][0]
    assert torch.equal(first, expected)  # the test step reads it as predict and timm do


def test_tables_of_paths_relative_to_the_file_and_their_errors(tmp_path):
    for split, n in (("train", 4), ("test", 2)):
        rows = ["image\tlabel"]
        for i in range(n):
            photo(tmp_path / "pics" / f"{split}{i}.jpg", 30 + i, 20)
            rows.append(f"pics/{split}{i}.jpg\t{['pos', 'neg'][i % 2]}")
        (tmp_path / f"{split}.tsv").write_text("\n".join(rows) + "\n")
    dm = ImageDataModule("csv", root=str(tmp_path), image_size=16, val_fraction=0.0)
    assert dm.contract.class_names == ["neg", "pos"] and dm.pipeline == "stream"
    assert dm.splits["train"].labels.tolist() == [1, 0, 1, 0]
    (tmp_path / "test.tsv").write_text("image\tlabel\npics/missing.jpg\tpos\n")
    with pytest.raises(DataError, match=r"test\.tsv names .*pics/missing\.jpg, which is not a file; image paths are relative"):
        ImageDataModule("csv", root=str(tmp_path), image_size=16).load()


def test_a_hugging_face_image_dataset_saved_to_disk(tmp_path):
    datasets = pytest.importorskip("datasets")
    splits = {}
    for split, n in (("train", 4), ("test", 2)):
        files = [str(photo(tmp_path / "src" / f"{split}{i}.jpg", 20 + 3 * i, 20)) for i in range(n)]
        features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=["ant", "bee"])})
        splits[split] = datasets.Dataset.from_dict({"image": files, "label": [i % 2 for i in range(n)]}, features=features)
    datasets.DatasetDict(splits).save_to_disk(str(tmp_path / "hf"))
    for f in (tmp_path / "src").iterdir():
        f.unlink()  # the saved dataset holds the bytes
    dm = ImageDataModule("hf", root=str(tmp_path / "hf"), image_size=16, val_fraction=0.0, batch_size=2, num_workers=0)
    assert dm.contract.class_names == ["ant", "bee"]
    dm.setup()
    batch = dm.on_after_batch_transfer(next(iter(dm.test_dataloader())), 0)
    assert batch["images"].shape == (2, 3, 16, 16) and batch["labels"].tolist() == [0, 1]
    with pytest.raises(DataError, match=r"has no column 'picture'; columns: \['image', 'label'\]"):
        ImageDataModule("hf", root=str(tmp_path / "hf"), image_column="picture", image_size=16).load()


def test_empty_class_folders_stop_and_nested_images_are_read(tmp_path):
    root = photo_folder(tmp_path, sizes=[(24, 24)])
    photo(root / "train/cat/more/deep.jpg", 24, 24)
    dm = ImageDataModule("folder", root=str(root), val_fraction=0.0)
    dm.load()
    assert len(dm.splits["train"]) == 13 and dm.splits["train"].labels.tolist().count(0) == 7
    (root / "train/bird").mkdir()
    with pytest.raises(DataError, match=r"class folder .*train/bird has no image files .*add images to it or remove it"):
        ImageDataModule("folder", root=str(root)).load()


def test_streamed_unreadable_files_stop_or_are_skipped_and_augment_options_belong_to_their_path(tmp_path, caplog):
    root = photo_folder(tmp_path)
    (root / "train/cat/0.jpg").write_bytes(b"broken")
    dm = ImageDataModule("folder", root=str(root), image_size=16, val_fraction=0.0, batch_size=12, num_workers=0)
    dm.setup()
    with pytest.raises(DataError, match=r"cannot read image .*cat/0\.jpg.*--data.skip_corrupt true"):
        list(dm.train_dataloader())
    dm = ImageDataModule("folder", root=str(root), image_size=16, val_fraction=0.0, batch_size=12, num_workers=0, skip_corrupt=True)
    dm.setup()
    assert [len(b["labels"]) for b in dm.train_dataloader()] == [12]
    assert "skipped" in caplog.text and "cat/0.jpg" in caplog.text
    with pytest.raises(ConfigError, match=r"data.randaugment is the in-memory path's; streamed, use timm's policy"):
        ImageDataModule("folder", root=str(root), image_size=16, randaugment=True).load()
    with pytest.raises(ConfigError, match=r"data.auto_augment='rand-zz': 'zz' is not a timm policy setting"):
        ImageDataModule("folder", root=str(root), image_size=16, auto_augment="rand-zz")
    with pytest.raises(ConfigError, match=r"data.auto_augment='bogus-m9' is not a timm policy"):
        ImageDataModule("folder", root=str(root), image_size=16, auto_augment="bogus-m9").load()
    with pytest.raises(ConfigError, match=r"data.auto_augment is applied to streamed images; this data is in memory"):
        ImageDataModule("digits", auto_augment="rand-m9-mstd0.5").load()
    with pytest.raises(ConfigError, match=r"data.scale must be two fractions"):
        ImageDataModule("folder", root=str(root), scale=(0.5, 2.0))


def test_a_sixteen_bit_png_among_eight_bit_ones_trains_on_the_eight_bit_scale(tmp_path):
    root = photo_folder(tmp_path, sizes=[(16, 16)])
    grey = np.full((16, 16), 200, dtype=np.uint8)
    Image.fromarray(grey).save(root / "train/cat/eight.png")
    Image.fromarray(grey.astype(np.uint16) * 257).save(root / "train/dog/sixteen.png")
    dm = ImageDataModule("folder", root=str(root), val_fraction=0.0, pipeline="memory")
    dm.load()
    images, labels = dm.splits["train"].images, dm.splits["train"].labels.tolist()
    eight, sixteen = images[labels.index(0) + 6], images[labels.index(1) + 6]  # after each class's six photos
    assert torch.equal(eight, sixteen) and int(sixteen.max()) == 200


def test_predict_refuses_a_pixel_bomb_with_one_line(tmp_path, capsys):
    from vit_bert import commands

    vit_bert.build_model("vit-ti/16", num_classes=2, depth=1).save_pretrained(tmp_path / "model")
    Image.new("1", (20_000, 10_000)).save(tmp_path / "bomb.png")
    with pytest.raises(SystemExit) as exit_info:
        commands.train_py(["predict", str(tmp_path / "model"), str(tmp_path / "bomb.png"), "--mean", "[0.5,0.5,0.5]", "--std", "[0.5,0.5,0.5]"])
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and "\n" not in err
    assert err.startswith("error: image ") and "bomb.png is 200,000,000 pixels, over the limit of 89,478,485; raise --max_image_pixels" in err


def test_fit_on_photos_of_many_sizes_needs_no_size_option(tmp_path, monkeypatch):
    from vit_bert.cli import build_cli

    photo_folder(tmp_path / "photos")
    monkeypatch.chdir(tmp_path)
    cli = build_cli(["--model.preset", "vit-ti/16", "--model.config", "{img_size: 32, depth: 1}", "--data.dataset", "folder",
                     "--data.root", "photos"])
    assert cli.datamodule.pipeline == "stream" and cli.datamodule.contract.img_size == 32 == cli.model.config.img_size
    assert cli.datamodule.contract.crop_pct == 0.875 and cli.datamodule.contract.interpolation == "bicubic"
