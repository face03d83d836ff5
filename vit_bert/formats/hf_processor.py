"""A Hugging Face image processor's ``preprocessor_config.json``, both ways, in timm's terms (the data contract's fields).

    preprocessor_protocol(processor, img_size) -> DataContract fields (img_size, mean, std, crop_pct, crop_mode,
                                                  interpolation): how transformers' processor reads an image
    write_processor(contract, directory, img_size)  the file that reads images as ``contract`` does (read back the same)
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from ..errors import WeightsError

RESAMPLE = {0: "nearest", 1: "lanczos", 2: "bilinear", 3: "bicubic", 4: "box", 5: "hamming"}  # PIL's codes
PROCESSOR_FILE = "preprocessor_config.json"


def preprocessor_protocol(processor: dict, img_size: int) -> dict:
    """A ``preprocessor_config.json`` -> DataContract fields (img_size, mean, std, crop_pct, crop_mode, interpolation): how
    transformers' image processor reads an image, in timm's terms. What has no such terms stops, named."""
    where = PROCESSOR_FILE
    if not processor.get("do_resize", True):
        raise WeightsError(f"{where} does not resize (do_resize false); vit_bert resizes every image to the model's input size")
    factor = processor.get("rescale_factor", 1 / 255) if processor.get("do_rescale", True) else 1.0
    if abs(factor * 255 - 1) > 1e-6:
        raise WeightsError(f"{where} rescales pixels by {factor}; vit_bert reads them in [0, 1] (rescale_factor 1/255)")
    size, crop = processor.get("size") or {}, processor.get("crop_size") or {}
    cropped = bool(processor.get("do_center_crop")) and bool(crop)
    if cropped and crop.get("height") != crop.get("width"):
        raise WeightsError(f"{where} center-crops to {crop}; vit_bert reads square inputs")
    if "height" in size and "width" in size:
        if size["height"] != size["width"]:
            raise WeightsError(f"{where} resizes to {size['height']} x {size['width']}; vit_bert reads square inputs")
        side = crop["height"] if cropped else size["height"]  # the whole image squashed to the square, then cropped
        protocol = {"crop_pct": side / size["height"], "crop_mode": "squash"} if cropped else {"crop_pct": None}
    elif "shortest_edge" in size and cropped:
        side = crop["height"]
        protocol = {"crop_pct": side / size["shortest_edge"], "crop_mode": "center"}
    else:
        raise WeightsError(f"{where} resizes with size={size} and crop_size={crop}; vit_bert reads a square resize, or the short "
                           "side resized and a square center crop")
    if side != img_size:
        raise WeightsError(f"{where} makes {side} px inputs, but the model's position table is for {img_size} px")
    resample = processor.get("resample", 2)
    if resample not in RESAMPLE:
        raise WeightsError(f"{where} resamples with PIL filter {resample}; vit_bert reads {', '.join(map(str, RESAMPLE))}")
    normalise = processor.get("do_normalize", True)
    mean = processor.get("image_mean") if normalise else [0.0, 0.0, 0.0]
    std = processor.get("image_std") if normalise else [1.0, 1.0, 1.0]
    if mean is None or std is None:
        raise WeightsError(f"{where} normalises but names no image_mean and image_std")
    return {"img_size": side, "mean": [float(m) for m in mean], "std": [float(s) for s in std], **protocol,
            "interpolation": RESAMPLE[resample]}


def write_processor(contract, directory: Path, img_size: int) -> None:
    """preprocessor_config.json reading images as the data contract does (``hf_image.preprocessor_protocol`` reads it back)."""
    resample = {name: code for code, name in RESAMPLE.items()}[contract.interpolation]
    if contract.crop_pct is None or contract.crop_mode == "squash":
        side = img_size if contract.crop_pct is None else math.floor(img_size / contract.crop_pct)  # timm's scale size
        size, crop = {"height": side, "width": side}, {"height": img_size, "width": img_size}
    else:
        size, crop = {"shortest_edge": math.floor(img_size / contract.crop_pct)}, {"height": img_size, "width": img_size}
    settings = {"image_processor_type": "ViTImageProcessor", "do_resize": True, "size": size, "resample": resample,
                "do_center_crop": contract.crop_pct is not None, "crop_size": crop, "do_rescale": True, "rescale_factor": 1 / 255,
                "do_normalize": True, "image_mean": list(contract.mean), "image_std": list(contract.std)}
    if contract.crop_pct is not None and contract.crop_mode != "squash":
        settings["image_processor_type"] = "BitImageProcessor"
    (directory / PROCESSOR_FILE).write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
