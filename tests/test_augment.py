import torch

from vit_bert.data.augment import BatchTransform, random_crop, random_hflip


def test_random_crop_keeps_shape_and_takes_windows_of_the_padded_image():
    images = torch.arange(2 * 1 * 6 * 6, dtype=torch.float32).view(2, 1, 6, 6) + 1
    out = random_crop(images, padding=2)
    assert out.shape == images.shape
    padded = torch.nn.functional.pad(images, (2,) * 4)
    for b in range(2):
        windows = [padded[b, :, y : y + 6, x : x + 6] for y in range(5) for x in range(5)]
        assert any(torch.equal(out[b], w) for w in windows)


def test_random_crop_without_padding_is_identity():
    images = torch.rand(3, 3, 8, 8)
    assert torch.equal(random_crop(images, 0), images)


def test_random_hflip_flips_some_images_exactly():
    torch.manual_seed(0)
    images = torch.rand(64, 3, 4, 4)
    out = random_hflip(images)
    flipped = [torch.equal(o, i.flip(-1)) for o, i in zip(out, images)]
    kept = [torch.equal(o, i) for o, i in zip(out, images)]
    assert all(f or k for f, k in zip(flipped, kept))
    assert 10 < sum(flipped) < 54


def test_batch_transform_normalises_and_resizes():
    transform = BatchTransform(mean=[0.5, 0.5, 0.5], std=[0.25, 0.25, 0.25], image_size=16, crop_padding=2)
    images = torch.full((4, 3, 8, 8), 255, dtype=torch.uint8)
    eval_out = transform(images, train=False)
    assert eval_out.shape == (4, 3, 16, 16) and eval_out.dtype == torch.float32
    torch.testing.assert_close(eval_out, torch.full_like(eval_out, 2.0))  # (1 - 0.5) / 0.25
    assert transform(images, train=True).shape == (4, 3, 16, 16)
