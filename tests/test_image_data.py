import pytest
import torch
from PIL import Image
from torchvision.io import write_png

from vit_bert.data import DataError, ImageDataModule


def make_folder(root, classes=("cat", "dog"), per_class=3, size=8, splits=("train", "test")):
    for split in splits:
        for label, name in enumerate(classes):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                image = torch.full((3, size, size), 40 * label + i, dtype=torch.uint8)
                write_png(image, str(folder / f"{i}.png"))
    return root


def test_folder_layout_loads_with_labels_from_class_folders(tmp_path):
    make_folder(tmp_path)
    dm = ImageDataModule("folder", root=str(tmp_path), val_fraction=0.0, batch_size=4)
    info = dm.contract
    assert info.class_names == ["cat", "dog"] and info.num_classes == 2
    assert info.in_chans == 3 and info.img_size == 8
    assert dm.splits["train"].images.shape == (6, 3, 8, 8)
    assert dm.splits["train"].labels.tolist() == [0, 0, 0, 1, 1, 1]
    batch = dm.on_after_batch_transfer(next(iter(dm.test_dataloader())), 0)
    assert batch["images"].dtype == torch.float32 and batch["images"].shape == (4, 3, 8, 8)


def test_grey_and_rgba_images_become_rgb_and_image_size_resizes(tmp_path):
    make_folder(tmp_path)
    write_png(torch.zeros(1, 8, 8, dtype=torch.uint8), str(tmp_path / "train/cat/grey.png"))
    Image.new("RGBA", (12, 12), (10, 20, 30, 128)).save(tmp_path / "train/dog/rgba.png")
    dm = ImageDataModule("folder", root=str(tmp_path), image_size=8, pipeline="memory")
    dm.load()
    assert len(dm.splits["train"]) + len(dm.splits["val"]) == 8
    assert dm.splits["train"].images.shape[1:] == (3, 8, 8)


def test_mixed_sizes_in_memory_without_image_size_is_an_error(tmp_path):
    make_folder(tmp_path)
    write_png(torch.zeros(3, 12, 12, dtype=torch.uint8), str(tmp_path / "train/dog/big.png"))
    with pytest.raises(DataError, match="different sizes.*--data.image_size.*--data.pipeline stream"):
        ImageDataModule("folder", root=str(tmp_path), pipeline="memory").load()


def test_corrupt_image_is_named_or_skipped(tmp_path, caplog):
    make_folder(tmp_path)
    (tmp_path / "train/cat/broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match=r"cannot read image .*broken\.png.*--data.skip_corrupt"):
        ImageDataModule("folder", root=str(tmp_path)).load()
    dm = ImageDataModule("folder", root=str(tmp_path), skip_corrupt=True, val_fraction=0.0)
    dm.load()
    assert len(dm.splits["train"]) == 6
    assert "skipped 1 unreadable image(s)" in caplog.text and "broken.png" in caplog.text


def test_folder_without_classes_or_train_split(tmp_path):
    (tmp_path / "train").mkdir()
    with pytest.raises(DataError, match=r"no class folders; expected .*<class name>"):
        ImageDataModule("folder", root=str(tmp_path)).load()
    with pytest.raises(DataError, match=r"no train/ folder"):
        ImageDataModule("folder", root=str(tmp_path / "missing")).load()


def test_cifar_offline_error_says_how_to_point_root_at_a_copy(tmp_path):
    with pytest.raises(DataError, match=r"could not load cifar10 from data.root=.*Point --data.root"):
        ImageDataModule("cifar10", root=str(tmp_path), download=False).load()


def test_digits_are_offline_and_split_deterministically():
    a, b = ImageDataModule("digits"), ImageDataModule("digits")
    a.load(), b.load()
    assert torch.equal(a.splits["val"].labels, b.splits["val"].labels)
    assert len(a.splits["train"]) + len(a.splits["val"]) + len(a.splits["test"]) == 1797
    assert a.contract.in_chans == 1 and a.contract.img_size == 8


def test_unknown_dataset_name():
    with pytest.raises(DataError, match=r"data.dataset must be one of .*'digits'.*got 'mnist'"):
        ImageDataModule("mnist")
