"""Small transformers text models of each family for the tests: their configs, weights moved off their initial values,
and a right-padded batch of ids."""

import torch
from transformers import (
    DistilBertConfig, DistilBertModel, ElectraConfig, ElectraModel, ModernBertConfig, ModernBertModel, RobertaConfig, RobertaModel,
)

VOCAB, LENGTHS = 300, [12, 7, 3]
SMALL = dict(vocab_size=VOCAB, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=96, max_position_embeddings=40)
FAMILIES = {
    "roberta": (RobertaModel, RobertaConfig(**SMALL, pad_token_id=1, type_vocab_size=1)),
    "electra": (ElectraModel, ElectraConfig(**SMALL, embedding_size=32)),
    "distilbert": (DistilBertModel, DistilBertConfig(vocab_size=VOCAB, dim=64, n_layers=2, n_heads=4, hidden_dim=96, max_position_embeddings=40)),
    # layer 1 attends locally: 4 tokens each side, less than the longest sequence
    "modernbert": (ModernBertModel, ModernBertConfig(**SMALL, local_attention=8, pad_token_id=0, bos_token_id=1, eos_token_id=2,
                                                     cls_token_id=1, sep_token_id=2)),
}


def jittered(model: torch.nn.Module) -> torch.nn.Module:
    """Every parameter moved off its initial value (LayerNorms at 1/0 and zero biases would hide a misplaced tensor)."""
    torch.manual_seed(1)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.05 * torch.randn_like(param))
    return model.eval()


def padded(pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ids (the first token a [CLS]-like id, never the padding id) and their mask."""
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(3, VOCAB, (len(LENGTHS), max(LENGTHS)), generator=generator)
    mask = (torch.arange(max(LENGTHS))[None] < torch.tensor(LENGTHS)[:, None]).long()
    return ids.masked_fill(mask == 0, pad_id), mask

