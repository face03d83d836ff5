"""ImageDataModule: digits, CIFAR-10/100, an ImageFolder tree, a table of image paths or a Hugging Face image dataset.

Batches: {"images": (B, C, S, S) float, normalised, "labels": (B,) int64}. Two paths, one contract:
- **in memory** (digits, CIFAR, and files that decode to one size and little memory): decoded once into uint8
  tensors; padded crop + flip run per batch on the device (``augment.py``), which keeps a 2-core CPU on the model;
- **streamed** (photos of many sizes, or too many to hold): each file decoded in DataLoader workers and transformed
  by timm (RandomResizedCrop, flip, an auto-augment policy, colour jitter, random erasing; eval: short side to
  S / crop_pct, center crop), so memory stays flat in the number of images.
``data.pipeline`` auto picks one from the decoded size and says which and why in one log line. A prepared folder
(``vit-bert prepare``, as data.root with any file data set) is streamed from its LitData shards (``streams.py``), with
the same transforms and contract as the folder it was made from.
``contract`` tells the model what the data needs: classes, channels, image size, mean, std, crop_pct, interpolation.
"""

from __future__ import annotations

import logging
import os

import torch
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms.v2 import RandAugment

from ..config import DataContract
from ..errors import ConfigError, DataError
from .augment import BatchTransform
from .base import SplitDataModule
from .image_files import ImageFiles, scan_folder, scan_hf, scan_table
from .image_reading import DEFAULT_MAX_PIXELS, header_size, open_image
from .image_sources import ImageSplit, load_cifar, load_digits, load_into_memory
from .image_transforms import Augmentation, eval_crop, train_transform
from .prepared import PreparedSplit, is_prepared, prepared_splits, read_manifest
from .splits import with_validation
from .streamed_images import EpochSampler, StreamedImages
from .streams import ShardImages

log = logging.getLogger(__name__)

DATASETS = ("digits", "cifar10", "cifar100", "folder", "csv", "hf", "prepared")
ARRAYS = ("digits", "cifar10", "cifar100")  # already pixel arrays: in memory
PIPELINES = ("auto", "memory", "stream")
MEMORY_BUDGET = 512 * 2**20
"""Decoded bytes up to which files of one size go in memory (CIFAR-10's 60,000 32x32 images take 176 MiB)."""
SIZE_SAMPLE = 64  # files whose headers the automatic choice reads
STATS_SAMPLE = 256  # files the streamed path's mean and std are measured on, when neither the model nor data.mean gives them
DEFAULT_CROP_PCT, DEFAULT_INTERPOLATION = 0.875, "bicubic"  # timm's resolve_data_config defaults


class InMemoryImages(Dataset):
    """Serves whole batches by index (``__getitems__``), optionally with per-image RandAugment."""

    def __init__(self, split: ImageSplit, per_image_transform=None):
        self.split = split
        self.per_image_transform = per_image_transform

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, index: int) -> dict:
        return self.__getitems__([index])

    def __getitems__(self, indices: list[int]) -> dict:
        index = torch.as_tensor(indices)
        images = self.split.images[index]
        if self.per_image_transform is not None:
            images = torch.stack([self.per_image_transform(image) for image in images])
        return {"images": images, "labels": self.split.labels[index]}


def _keep_batch(batch: dict) -> dict:
    return batch


def _evenly(n: int, k: int) -> list[int]:
    """Up to ``k`` indices spread evenly over range(n)."""
    m = min(n, k)
    return [i * n // m for i in range(m)]


def choose_pipeline(splits: dict[str, ImageFiles], image_size: int | None, channels: int) -> tuple[str, str]:
    """('memory' | 'stream', why): memory when the files share one size and decode to at most ``MEMORY_BUDGET``."""
    train = splits["train"]
    sizes = {header_size(train.encoded(i)) for i in _evenly(len(train), SIZE_SAMPLE)} - {None}  # unreadable: named when decoded
    if len(sizes) > 1:
        return "stream", f"the images have different sizes (e.g. {', '.join(f'{w}x{h}' for w, h in sorted(sizes)[:3])})"
    width, height = next(iter(sizes), (0, 0))
    if image_size is not None:
        width = height = image_size
    count = sum(len(split) for split in splits.values())
    decoded = count * channels * width * height
    if decoded > MEMORY_BUDGET:
        return "stream", f"{count:,} images of {width}x{height} would take {decoded / 2**30:.1f} GiB decoded"
    return "memory", f"{count:,} images of {width}x{height} take {decoded / 2**20:.0f} MiB decoded: faster augmented per batch"


def measure_mean_std(files: ImageFiles, crop, channels: int, max_pixels: int | None) -> tuple[list[float], list[float]]:
    """Per-channel mean and std in [0, 1] over up to ``STATS_SAMPLE`` training images, each read as evaluation reads it (``crop``)."""
    total, squares, count = torch.zeros(channels, dtype=torch.float64), torch.zeros(channels, dtype=torch.float64), 0
    for i in _evenly(len(files), STATS_SAMPLE):
        try:
            image = crop(open_image(files.encoded(i), channels, max_pixels))
        except DataError:
            continue  # the loader names unreadable files when it reaches them
        pixels = image.flatten(1).double() / 255.0
        total, squares, count = total + pixels.sum(1), squares + (pixels**2).sum(1), count + pixels.shape[1]
    if count == 0:
        raise DataError("none of the sampled training images could be read")
    mean = total / count
    return mean.tolist(), (squares / count - mean**2).clamp_min(0).sqrt().clamp_min(1e-3).tolist()


class ImageDataModule(SplitDataModule):
    def __init__(
        self,
        dataset: str = "digits",
        root: str = "data",
        download: bool = True,
        image_size: int | None = None,
        batch_size: int = 128,
        eval_batch_size: int | None = None,
        val_fraction: float = 0.1,
        pipeline: str = "auto",
        crop_padding: int = 4,
        hflip: bool = True,
        randaugment: bool = False,
        scale: tuple[float, float] = (0.08, 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        color_jitter: float = 0.4,
        auto_augment: str | None = None,
        re_prob: float = 0.0,
        mean: list[float] | None = None,
        std: list[float] | None = None,
        crop_pct: float | None = None,
        interpolation: str | None = None,
        image_column: str = "image",
        label_column: str = "label",
        max_image_pixels: int | None = DEFAULT_MAX_PIXELS,
        skip_corrupt: bool = False,
        num_workers: int | None = None,
        seed: int = 0,
        model_data_config: dict | None = None,
    ):
        """
        Args:
            dataset: 'digits' (scikit-learn's 8x8 digits, offline), 'cifar10', 'cifar100', 'folder' (ImageFolder layout:
                root/train/<class>/..., root/test/<class>/...), 'csv' (root/train.csv, test.csv: an image path relative to the
                file and a label per row; .tsv and .jsonl too), 'hf' (root: a Hugging Face dataset name or save_to_disk folder)
                or 'prepared' (root: a folder or s3:// URL written by vit-bert prepare; folder, csv and hf read one too).
            root: Where CIFAR is downloaded/found, the folder holding train/, test/ (and optional val/) or the tables, the HF
                name, or a prepared folder.
            download: Download CIFAR into root when it is not there.
            image_size: Side the model sees. Default: the stored size (in memory), else the model's input size (streamed).
            batch_size: Training batch size.
            eval_batch_size: Validation/test batch size (default: batch_size).
            val_fraction: Share of train held out for validation when there is no val split; 0 validates on test.
            pipeline: 'auto' (in memory when the files share one size and decode to at most 512 MiB, else streamed),
                'memory' or 'stream'. The log says which was taken and why.
            crop_padding: In memory: random-crop padding in pixels at the stored size (0 = no crop).
            hflip: Random horizontal flips (turn off for digits and text-like images).
            randaugment: In memory: per-image RandAugment (torchvision) in the loader, before the batched crop/flip.
            scale: Streamed: RandomResizedCrop's range of the image area kept.
            ratio: Streamed: RandomResizedCrop's range of aspect ratios.
            color_jitter: Streamed: colour jitter strength (unused when auto_augment is set, as in timm).
            auto_augment: Streamed: a timm policy string, e.g. rand-m9-mstd0.5, trivialaugment, augmix-m5-w4-d2.
            re_prob: Streamed: random-erasing probability.
            mean: Per-channel normalisation mean in [0, 1]. Default: the pretrained model's, else measured on the training images.
            std: Per-channel normalisation std, with mean.
            crop_pct: Evaluation's center crop over the resized short side (timm's crop_pct). Default: the pretrained model's,
                else 0.875 streamed, 1.0 in memory.
            interpolation: Resize filter (bilinear, bicubic, ...). Default: the pretrained model's, else bicubic streamed, bilinear in memory.
            image_column: Column of the image paths (csv) or images (hf).
            label_column: Column of the labels (csv, hf).
            max_image_pixels: Larger images (width x height, read from the header) are refused before decoding; null: no limit.
            skip_corrupt: Skip unreadable or oversized image files with a warning instead of stopping.
            num_workers: DataLoader worker processes. Default: one per core (at most 8) streamed, none in memory.
            seed: Seed of the train/val split, of the training order and of each sample's augmentation (resumable mid-epoch).
            model_data_config: The model's own data config (img_size; for pretrained weights their mean, std, crop_pct and
                interpolation), which train.py fills in from --model.preset / --model.pretrained; the options above win.
        """
        super().__init__()
        if dataset not in DATASETS:
            raise DataError(f"data.dataset must be one of {DATASETS}; got {dataset!r}")
        if pipeline not in PIPELINES:
            raise ConfigError(f"data.pipeline must be one of {PIPELINES}; got {pipeline!r}")
        if dataset in ARRAYS and pipeline == "stream":
            raise ConfigError(f"data.pipeline=stream reads image files; {dataset} is a pixel array, read in memory (data.pipeline auto)")
        if (mean is None) != (std is None):
            raise ConfigError("data.mean and data.std go together: set both or neither")
        self.augmentation = Augmentation(tuple(scale), tuple(ratio), 0.5 if hflip else 0.0, color_jitter, auto_augment, re_prob)
        self.save_init_arguments()
        self.check_settings()
        self.splits: dict[str, ImageSplit | ImageFiles] | None = None
        self.class_names: list[str] = []
        self.pipeline: str | None = None
        self.transform: BatchTransform | None = None
        self._contract: DataContract | None = None
        self._report = ""  # which path, and why: logged by setup()

    def load(self) -> None:
        if self.splits is not None:
            return
        hp = self.hparams
        if hp.dataset in ARRAYS:
            splits, self.class_names = load_digits() if hp.dataset == "digits" else load_cifar(hp.dataset, hp.root, hp.download)
            self.pipeline, why = "memory", f"{hp.dataset} is a pixel array"
        elif hp.dataset == "prepared" or is_prepared(hp.root):
            splits, self.class_names = self._prepared()
            self.pipeline, why = "stream", f"{hp.root} is a prepared folder: its shards are streamed"
        else:
            splits, self.class_names = self._scan()
            self.pipeline, why = (hp.pipeline, f"data.pipeline={hp.pipeline}") if hp.pipeline != "auto" else choose_pipeline(splits, hp.image_size, 3)
            if self.pipeline == "memory":
                splits = {name: load_into_memory(files, hp.image_size, 3, hp.skip_corrupt, hp.max_image_pixels, f"{hp.root} {name}")
                          for name, files in splits.items()}
        if "test" not in splits:
            raise DataError(f"no test split found under data.root={hp.root!r}; expected a test/<class>/ folder or a test table")
        self.splits = with_validation(splits, hp.val_fraction, hp.seed)
        self._contract = self._memory_contract() if self.pipeline == "memory" else self._streamed_contract()
        self._check_augmentation()
        self._report = f"image data: {'in memory' if self.pipeline == 'memory' else 'streamed'} ({why}); {self._describe()}"

    def _prepared(self) -> tuple[dict[str, PreparedSplit], list[str]]:
        hp = self.hparams
        manifest = read_manifest(hp.root)
        if manifest.modality != "image":
            raise DataError(f"{hp.root} holds {manifest.modality} shards; an image data module reads image shards (vit-bert prepare IMAGES OUT)")
        if hp.pipeline == "memory":
            raise ConfigError(f"{hp.root} is a prepared folder, streamed from its shards; leave data.pipeline at auto or stream")
        return prepared_splits(hp.root, manifest), manifest.class_names

    def _scan(self) -> tuple[dict[str, ImageFiles], list[str]]:
        hp = self.hparams
        if hp.dataset == "folder":
            return scan_folder(hp.root)
        if hp.dataset == "csv":
            return scan_table(hp.root, hp.image_column, hp.label_column)
        return scan_hf(hp.root, hp.image_column, hp.label_column)

    def _describe(self) -> str:
        """How training augments and evaluation reads, for the log line."""
        hp, c = self.hparams, self._contract
        if self.pipeline == "memory":
            how = f"batched on the device: crop padding {hp.crop_padding}, flips {hp.hflip}{', RandAugment' if hp.randaugment else ''}"
        else:
            workers = "data.num_workers" if hp.num_workers is not None else "one per core; data.num_workers sets it"
            how = (f"{self.loader_workers} DataLoader worker(s) ({workers}) decode each file; timm's RandomResizedCrop scale "
                   f"{list(hp.scale)}, {hp.auto_augment or f'colour jitter {hp.color_jitter}'}, random erasing {hp.re_prob}")
        return (f"{how}; eval at {c.img_size} px, crop_pct {c.crop_pct}, {c.interpolation}, mean {[round(m, 4) for m in c.mean]}, "
                f"std {[round(v, 4) for v in c.std]}")

    def _model(self, key: str):
        return (self.hparams.model_data_config or {}).get(key)

    def _memory_contract(self) -> DataContract:
        hp = self.hparams
        train = self.splits["train"].images
        mean, std = hp.mean or self._model("mean"), hp.std or self._model("std")
        if mean is None:
            pixels = train.float() / 255.0
            mean, std = pixels.mean(dim=(0, 2, 3)).tolist(), pixels.std(dim=(0, 2, 3)).tolist()
        size = hp.image_size or train.shape[-1]
        self.transform = BatchTransform(mean, std, size, hp.crop_padding, hp.hflip)
        # Batched resizing is bilinear over the whole (square) image: crop_pct 1.0 reads a new photo the same way, aspect kept.
        return DataContract("image", list(self.class_names), in_chans=int(train.shape[1]), img_size=size, mean=list(mean), std=list(std),
                            crop_pct=1.0, interpolation="bilinear")

    def _streamed_contract(self) -> DataContract:
        hp = self.hparams
        size = hp.image_size or self._model("img_size")
        if size is None:
            raise ConfigError("streamed images are cropped to the model's input size: set --data.image_size (e.g. 224)")
        model = hp.model_data_config or {}
        # the model's own crop_pct wins even when it is None (its images were read squashed to the square)
        crop_pct = hp.crop_pct if hp.crop_pct is not None else model["crop_pct"] if "crop_pct" in model else DEFAULT_CROP_PCT
        protocol = dict(crop_pct=crop_pct, crop_mode=model.get("crop_mode") or "center",
                        interpolation=hp.interpolation or model.get("interpolation") or DEFAULT_INTERPOLATION)
        mean, std = hp.mean or self._model("mean"), hp.std or self._model("std")
        if mean is None:
            unnormalised = DataContract("image", list(self.class_names), in_chans=3, img_size=int(size), mean=[0.0] * 3, std=[1.0] * 3, **protocol)
            mean, std = measure_mean_std(self.splits["train"], eval_crop(unnormalised), 3, hp.max_image_pixels)
            log.info("mean and std measured on %d training images as evaluation crops them (set data.mean and data.std to fix them)",
                     min(len(self.splits["train"]), STATS_SAMPLE))
        self.transform = BatchTransform(mean, std, int(size), crop_padding=0, hflip=False)
        return DataContract("image", list(self.class_names), in_chans=3, img_size=int(size), mean=list(mean), std=list(std), **protocol)

    def _check_augmentation(self) -> None:
        hp = self.hparams
        if self.pipeline == "stream" and hp.randaugment:
            raise ConfigError("data.randaugment is the in-memory path's; streamed, use timm's policy: --data.auto_augment rand-m9-mstd0.5")
        if self.pipeline == "stream":
            train_transform(self._contract, self.augmentation)  # a policy string timm cannot parse stops here, not in a worker
        if self.pipeline == "memory" and hp.auto_augment:
            raise ConfigError("data.auto_augment is applied to streamed images; this data is in memory. Add --data.pipeline stream "
                              "(files only), or use --data.randaugment true")

    @property
    def contract(self) -> DataContract:
        self.load()
        return self._contract

    @property
    def loader_workers(self) -> int:
        if self.hparams.num_workers is not None:
            return self.hparams.num_workers
        return min(8, len(os.sched_getaffinity(0))) if self.pipeline == "stream" else 0

    def setup(self, stage: str | None = None) -> None:
        self.load()
        if self._report:  # once, as training starts: a config error found while building the model stays one line
            log.info(self._report)
            self._report = ""

    def _loader(self, split: str, train: bool) -> DataLoader:
        hp = self.hparams
        drop_last = train and len(self.splits[split]) > hp.batch_size
        if self.pipeline == "memory":
            per_image = RandAugment() if train and hp.randaugment else None
            return self.make_loader(InMemoryImages(self.splits[split], per_image), train, _keep_batch, drop_last)
        transform = train_transform(self._contract, self.augmentation) if train else eval_crop(self._contract)
        if isinstance(self.splits[split], PreparedSplit):
            shards = ShardImages(self.splits[split].path, transform, self._contract.in_chans, hp.max_image_pixels, hp.seed, train)
            return self.make_stream_loader(shards, train, None)
        dataset = StreamedImages(self.splits[split], transform, self._contract.in_chans, hp.max_image_pixels, hp.seed, hp.skip_corrupt)
        return self.make_loader(dataset, train, None, drop_last, sampler=EpochSampler)

    def prepare_batch(self, batch: dict, training: bool) -> dict:
        if self.pipeline == "stream" and training:
            return batch  # augmented and normalised in the workers
        # in memory: augmented, resized and normalised here; streamed eval: cropped in the workers, normalised here
        return {**batch, "images": self.transform(batch["images"], train=training)}
