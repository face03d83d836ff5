"""A list of images of different sizes is one forward (issue: native resolution, items 1's API): each image at its own
grid and positions, attention inside each image through the packed path, pooled per image; equal to each image alone."""

import pytest
import torch

import vit_bert
from vit_bert.errors import InputError

SMALL = dict(depth=2, img_size=32, patch_size=8, dim=64, heads=4)
FAMILIES = {  # every image family: learned positions ([CLS], distillation token, registers, norm_pre, attention pooling), rotary ones
    "vit-s/16": dict(num_classes=3), "deit-ti/16-distilled": dict(num_classes=3), "dinov2-s/14-reg4": {}, "clip-b/16": {},
    "siglip-b/16": {}, "eva02-ti/14": dict(rope_ref_grid=4), "dinov3-s/16": dict(layer_scale=1.0),
}
SIZES = [(32, 24), (16, 40), (32, 32), (8, 8)]  # landscape, a wide strip, the configured square, a single patch


@pytest.mark.parametrize("preset", list(FAMILIES))
def test_a_list_of_images_of_different_sizes_equals_each_image_alone(preset):
    torch.manual_seed(0)
    model = vit_bert.build_model(preset, **{**SMALL, **FAMILIES[preset]}).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)  # off the initial values: zeros would hide a wrong position or token
    images = [torch.randn(3, h, w) for h, w in SIZES]
    with torch.no_grad():
        together, tokens = model(images), model.forward_features(images)
        for row, image in enumerate(images):
            alone = model.forward_features(image[None])[0]
            assert (tokens[row, : len(alone)] - alone).abs().max() < 1e-5
            assert (tokens[row, len(alone):] == 0).all()  # the padding stays zero
            assert (together[row] - model(image[None])[0]).abs().max() < 1e-5
    assert together.shape[0] == len(images)


def test_a_list_trains_and_bad_lists_stop_with_one_line():
    model = vit_bert.build_model("vit-s/16", **SMALL, num_classes=3)
    logits = model([torch.randn(3, 16, 24), torch.randn(3, 32, 8)])
    logits.sum().backward()
    assert model.frontend.pos_embed.grad is not None and model.frontend.pos_embed.grad.abs().sum() > 0
    with pytest.raises(InputError, match="an empty list of images"):
        model([])
    with pytest.raises(InputError, match=r"images\[1\] is \(1, 3, 16, 16\); a list of images takes one \(C, H, W\) tensor each"):
        model([torch.randn(3, 16, 16), torch.randn(1, 3, 16, 16)])
    with pytest.raises(InputError, match="not divisible by the patch size 8"):
        model([torch.randn(3, 16, 12)])


def test_timm_naflex_and_transformers_patch_dicts_are_the_same_batch():
    from timm.data.naflex_transforms import patchify_image

    torch.manual_seed(0)
    model = vit_bert.build_model("dinov3-s/16", **SMALL, layer_scale=1.0).eval()
    images = [torch.randn(3, h, w) for h, w in SIZES[:3]]
    longest = max(h * w for h, w in SIZES[:3]) // 64

    def padded(rows):
        return torch.stack([torch.cat([r, r.new_zeros(longest - len(r), *r.shape[1:])]) for r in rows])

    parts = [patchify_image(image, (8, 8)) for image in images]  # timm's own NaFlex patches, coordinates and validity
    order = torch.randperm(len(parts[0][0]))  # the patches of one image in any order: each goes by its coordinate
    parts[0] = tuple(t[order] for t in parts[0])
    timm_form = {"patches": padded([p for p, _, _ in parts]), "patch_coord": padded([c for _, c, _ in parts]),
                 "patch_valid": padded([v for _, _, v in parts])}
    hf_form = {"pixel_values": padded([patchify_image(image, (8, 8))[0] for image in images]),
               "pixel_attention_mask": padded([torch.ones(h * w // 64, dtype=torch.int32) for h, w in SIZES[:3]]),
               "spatial_shapes": torch.tensor([[h // 8, w // 8] for h, w in SIZES[:3]])}
    with torch.no_grad():
        expected = model(images)
        assert torch.equal(model(timm_form), expected) and torch.equal(model(hf_form), expected)
    with pytest.raises(InputError, match=r"expected timm's NaFlex keys \['patches', 'patch_coord', 'patch_valid'\]"):
        model({"patches": timm_form["patches"]})


@pytest.mark.parametrize("name", ["naflexvit_base_patch16_gap", "naflexvit_base_patch16_par_gap", "naflexvit_base_patch16_map",
                                  "naflexvit_base_patch16_siglip"])
def test_timm_naflexvit_objects_load_and_match_timm_per_image_at_three_sizes(name):
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    theirs = timm.create_model(name, pretrained=False, depth=2, embed_dim=64, num_heads=4, num_classes=3).eval()
    with torch.no_grad():
        for p in theirs.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    ours = vit_bert.load_pretrained(theirs).eval()
    images = [torch.randn(3, h, w) for h, w in [(256, 256), (160, 320), (96, 48)]]  # the table's grid, wide, tall and small
    with torch.no_grad():
        together = ours(images)
        for row, image in enumerate(images):
            assert (together[row] - theirs(image[None])[0]).abs().max() < 1e-5


def test_naflexvit_settings_vit_bert_does_not_compute_stop_with_one_line():
    timm = pytest.importorskip("timm")
    from vit_bert.errors import WeightsError

    with pytest.raises(WeightsError, match=r"factorized position tables \(pos_embed_type='factorized'\)"):
        vit_bert.load_pretrained(timm.create_model("naflexvit_base_patch16_parfac_gap", pretrained=False, depth=1))


def test_siglip2_naflex_folders_match_transformers_on_a_mixed_size_batch(tmp_path):
    transformers = pytest.importorskip("transformers")
    from timm.data.naflex_transforms import patchify_image

    torch.manual_seed(0)
    config = transformers.Siglip2VisionConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                                              patch_size=8, num_patches=16)
    hf = transformers.Siglip2VisionModel(config).eval()
    with torch.no_grad():
        for p in hf.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    hf.save_pretrained(tmp_path / "siglip2")
    ours = vit_bert.load_pretrained(tmp_path / "siglip2").eval()
    sizes = [(32, 32), (16, 48), (40, 24)]  # the table's 4 x 4 grid, then resampled to 2 x 6 and 5 x 3
    longest = max(h * w for h, w in sizes) // 64
    patches = [patchify_image(torch.randn(3, h, w), (8, 8))[0] for h, w in sizes]
    batch = {"pixel_values": torch.stack([torch.cat([p, p.new_zeros(longest - len(p), p.shape[1])]) for p in patches]),
             "pixel_attention_mask": torch.tensor([[1] * len(p) + [0] * (longest - len(p)) for p in patches]),
             "spatial_shapes": torch.tensor([[h // 8, w // 8] for h, w in sizes])}
    with torch.no_grad():
        expected = hf(**batch)
        tokens = ours.forward_features(batch)
        real = batch["pixel_attention_mask"].bool()
        assert (tokens[real] - expected.last_hidden_state[real]).abs().max() < 1e-5
        assert (ours(batch) - expected.pooler_output).abs().max() < 1e-5
    assert ours.config.pos_embed_interp == "bilinear"
