import pytest
import torch


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def padded_batch(vocab_size: int, lengths: list[int], pad_id: int = 0):
    """Token ids (B, T) starting with [CLS]=1, padded with pad_id, and their (B, T) mask."""
    total = max(lengths)
    ids = torch.full((len(lengths), total), pad_id, dtype=torch.long)
    mask = torch.zeros(len(lengths), total, dtype=torch.long)
    for row, length in enumerate(lengths):
        ids[row, :length] = torch.randint(2, vocab_size, (length,))
        ids[row, 0] = 1
        mask[row, :length] = 1
    return ids, mask
