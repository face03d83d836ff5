"""Property-based tests (hypothesis): random sizes, random padding, random unicode text."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import vit_bert
from vit_bert.tokenizer import TextTokenizer, train_wordpiece
from text_data import sentences

FAST = settings(max_examples=25, deadline=None)
TEXT_MODEL = vit_bert.build_model("bert-tiny", vocab_size=60, max_len=40, num_classes=3).eval()
IMAGE_MODEL = vit_bert.build_model("vit-ti/16", img_size=32, patch_size=8, depth=1, num_classes=4).eval()
TOKENIZER = train_wordpiece([t for t, _ in sentences(200)], vocab_size=120)


@FAST
@given(lengths=st.lists(st.integers(1, 20), min_size=1, max_size=5), extra=st.integers(0, 15), seed=st.integers(0, 2**16))
def test_text_padding_never_changes_real_token_outputs(lengths, extra, seed):
    generator = torch.Generator().manual_seed(seed)
    width = max(lengths) + extra
    ids = torch.randint(1, 60, (len(lengths), width), generator=generator)
    mask = (torch.arange(width)[None] < torch.tensor(lengths)[:, None]).long()
    ids = ids * mask
    with torch.no_grad():
        padded = TEXT_MODEL.forward_features(ids, attention_mask=mask)
        logits = TEXT_MODEL(ids, attention_mask=mask)
    assert padded.shape == (len(lengths), width, 128) and logits.shape == (len(lengths), 3)
    assert torch.isfinite(padded).all()
    for row, length in enumerate(lengths):  # each sequence alone, without any padding
        with torch.no_grad():
            alone = TEXT_MODEL.forward_features(ids[row : row + 1, :length], attention_mask=mask[row : row + 1, :length])
            alone_logits = TEXT_MODEL(ids[row : row + 1, :length], attention_mask=mask[row : row + 1, :length])
        assert torch.allclose(padded[row, :length], alone[0], atol=1e-4)
        assert torch.allclose(logits[row], alone_logits[0], atol=1e-4)


@FAST
@given(batch=st.integers(1, 3), grid_h=st.integers(1, 6), grid_w=st.integers(1, 6))
def test_images_of_any_patch_multiple_give_one_token_per_patch_plus_cls(batch, grid_h, grid_w):
    images = torch.randn(batch, 3, 8 * grid_h, 8 * grid_w)
    with torch.no_grad():
        features = IMAGE_MODEL.forward_features(images)
        logits = IMAGE_MODEL(images)
    assert features.shape == (batch, 1 + grid_h * grid_w, 192)
    assert logits.shape == (batch, 4) and torch.isfinite(logits).all()


@FAST
@given(texts=st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80), min_size=1, max_size=6),
       max_length=st.integers(2, 24))
def test_any_unicode_text_encodes_and_collates(texts, max_length):
    encoder = TextTokenizer(TOKENIZER, max_length=max_length)
    ids, truncated = encoder.encode(texts)
    assert len(ids) == len(texts) and 0 <= truncated <= len(texts)
    for seq in ids:
        assert 2 <= len(seq) <= max_length
        assert seq[0] == encoder.cls_id and seq[-1] == encoder.sep_id
        assert all(0 <= i < TOKENIZER.get_vocab_size() for i in seq)
    batch = encoder.collate(ids)
    assert batch["input_ids"].shape == batch["attention_mask"].shape == (len(texts), max(len(s) for s in ids))
    assert batch["attention_mask"].sum(1).tolist() == [len(s) for s in ids]
    assert (batch["input_ids"][batch["attention_mask"] == 0] == encoder.pad_id).all()
