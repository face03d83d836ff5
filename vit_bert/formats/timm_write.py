"""vit_bert image models -> a timm Hub folder that ``timm.create_model("local-dir:" + folder)`` loads, computing the same
function: config.json (the architecture, its ``model_args``, ``label_names`` and a ``pretrained_cfg`` with the model's
mean, std, crop and filter) and model.safetensors, written by timm's own ``save_for_hf``.

    save_timm(model, directory) -> directory
    timm_architecture(config)   -> (registered timm name, model_args): the registered VisionTransformer whose settings
                                   no model_arg can say (norm kind and eps, gated MLP, distillation) agree with the
                                   model's, preferring one of exactly its weights (a vit-s/16 preset leaves as
                                   ``vit_small_patch16_224``); everything else in model_args
    timm_state_dict(config, state_dict) -> vit_bert's tensors in that timm model's keys
A model timm's VisionTransformer cannot express (text, a conv stem, rotary positions, a tanh pooler, a patch bias that
does not follow ``norm_pre`` as timm's does) stops with one line saying why. The written model is checked against
this one on a random batch before anything is written.
"""

from __future__ import annotations

from pathlib import Path

import timm
import torch
from einops import rearrange
from timm.models import save_for_hf

from ..config import ModelConfig
from ..errors import ConfigError, WeightsError
from .timm_facts import TIMM_POOLS, facts_table, weights_signature

POOLS = {ours: theirs for theirs, ours in TIMM_POOLS.items()}
ACTS = {"gelu": "gelu", "gelu_tanh": "gelu_tanh", "quick_gelu": "quick_gelu", "silu": "silu"}
_RENAMES = (("frontend.cls_token", "cls_token"), ("frontend.dist_token", "dist_token"), ("frontend.reg_token", "reg_token"),
            ("frontend.pos_embed", "pos_embed"), ("frontend.patch_embed.", "patch_embed."), ("frontend.norm_pre.", "norm_pre."),
            ("encoder.blocks.", "blocks."), ("encoder.norm.", "norm."), ("head.fc_norm.", "fc_norm."), ("head.attn_pool.", "attn_pool."),
            ("head.fc_dist.", "head_dist."), ("head.fc.", "head."))


def check_expressible(config: ModelConfig) -> None:
    why = None
    if config.modality != "image":
        why = "timm has no text models; save it with format='transformers'"
    elif config.stem != "patch":
        why = "its conv stem has no counterpart in timm's VisionTransformer (a linear patch embedding)"
    elif config.rope_theta is not None:
        why = "its rotary positions are timm's Eva, which vit_bert does not write yet; save it in vit_bert's own format"
    elif config.head_pooler:
        why = "its head has a pooler (dense + activation over [CLS]) that timm's VisionTransformer lacks; save it with format='transformers'"
    elif config.patch_bias == config.norm_pre:
        why = f"timm gives the patch embedding a bias exactly when there is no norm_pre; this model has patch_bias={config.patch_bias} with norm_pre={config.norm_pre}"
    elif config.mlp_bias != config.proj_bias:
        why = "timm biases the MLP exactly when it biases the attention projection (proj_bias); this model differs"
    elif config.act not in ACTS:
        why = f"act={config.act!r} is not one of timm's VisionTransformer activations ({', '.join(ACTS)})"
    elif config.mlp_hidden is not None and int(config.dim * config.mlp_hidden / config.dim) != config.mlp_hidden:
        why = f"its MLP width {config.mlp_hidden} is not int(dim * mlp_ratio) for any ratio timm would compute"
    elif config.pool not in POOLS:
        why = f"pool={config.pool!r} has no timm global_pool"
    if why:
        raise ConfigError(f"this model cannot be written as a timm model: {why}")


def timm_state_dict(config: ModelConfig, state_dict: dict[str, torch.Tensor], model: torch.nn.Module | None = None) -> dict[str, torch.Tensor]:
    """``model``: the vit_bert model, for a sin-cos position table (a buffer no state dict holds)."""
    out = {}
    for key, value in state_dict.items():
        old, new = next(((old, new) for old, new in _RENAMES if key == old or (old.endswith(".") and key.startswith(old))), (None, None))
        if old is None:
            raise WeightsError(f"{key} has no place in timm's VisionTransformer")
        if key == "frontend.patch_embed.proj.weight":
            value = rearrange(value, "d (p1 p2 c) -> d c p1 p2", p1=config.patch_size, p2=config.patch_size)
        out[new + key[len(old):]] = value
    if config.pos_embed == "sincos" and model is not None:
        out["pos_embed"] = model.frontend.pos_embed.detach().clone()
    if config.qkv_bias and not config.k_bias:  # the key rows vit_bert masks out (k_bias=False): zeros, as they act
        for index in range(config.depth):
            bias = out[f"blocks.{index}.attn.qkv.bias"].clone()
            bias[config.dim: 2 * config.dim] = 0
            out[f"blocks.{index}.attn.qkv.bias"] = bias
    if config.num_classes and "head.bias" not in out:  # no classifier bias: a zero one
        out["head.bias"] = torch.zeros(config.num_classes)
    if config.dist_token and config.num_classes and "head_dist.bias" not in out:
        out["head_dist.bias"] = torch.zeros(config.num_classes)
    return out


def model_args(config: ModelConfig) -> dict:
    hidden = config.mlp_hidden or int(config.dim * config.mlp_ratio)
    return dict(
        img_size=config.img_size, patch_size=config.patch_size, in_chans=config.in_chans, num_classes=config.num_classes,
        global_pool=POOLS[config.pool], embed_dim=config.dim, depth=config.depth, num_heads=config.heads, mlp_ratio=hidden / config.dim,
        qkv_bias=config.qkv_bias, qk_norm=config.qk_norm, scale_mlp_norm=config.mlp_norm, proj_bias=config.proj_bias,
        init_values=config.layer_scale, class_token=config.class_token, pos_embed="none" if config.pos_embed == "none" else "learn",
        no_embed_class=config.no_embed_class, reg_tokens=config.reg_tokens, pre_norm=config.norm_pre, final_norm=config.final_norm,
        fc_norm=config.fc_norm, act_layer=ACTS[config.act], scale_attn_norm=False, pool_include_prefix=False, dynamic_img_size=False,
    )


def timm_architecture(config: ModelConfig, timm_keys: dict[str, torch.Tensor]) -> tuple[str, dict]:
    """The registered architecture must agree on what model_args cannot say: the norm and its eps, a gated MLP, and the
    optional parts (timm drops a model_arg of None, so an architecture with LayerScale keeps it whatever the args say)."""
    check_expressible(config)
    signature = weights_signature(timm_keys)
    found = [(sig, entry) for sig, entries in facts_table().items() for entry in entries
             if entry.get("eva") is None and entry["norm"] == config.norm and entry["ln_eps"] == config.ln_eps and _kind(sig) == _kind(signature)]
    if not found:
        raise ConfigError(f"this model cannot be written as a timm model: no registered timm VisionTransformer has its parts "
                          f"({signature}) with norm={config.norm!r} and ln_eps={config.ln_eps}")
    exact = [entry for sig, entry in found if sig == signature and entry["heads"] == config.heads and entry["act"] == config.act
             and entry["pool"] == config.pool]
    width = [entry for sig, entry in found if sig.split("/")[0] == signature.split("/")[0]]
    return (exact or width or [entry for _, entry in found])[0]["names"][0], model_args(config)


def _kind(signature: str) -> tuple:
    """A weights signature less what model_args set (sizes, depth, the register count): whether the MLP is gated, the prefix
    tokens but registers, and the optional parts."""
    width, mlp, _, prefix, *flags = signature.split("/")
    fc1, fc2 = mlp.split("-")
    return int(fc1) == 2 * int(fc2), tuple(p for p in prefix.split("+") if not p.startswith("reg")), tuple(flags)


def save_timm(model: torch.nn.Module, directory: str | Path) -> Path:
    config, directory = model.config, Path(directory)
    check_expressible(config)
    weights = timm_state_dict(config, model.plain_state_dict(), model)
    name, args = timm_architecture(config, weights)
    theirs = timm.create_model(name, pretrained=False, **args)
    try:
        theirs.load_state_dict(weights, strict=True)
    except RuntimeError as err:  # a key layout of this module's that the architecture chosen does not share: a bug here
        raise WeightsError(f"timm's {name} does not take this model's weights ({str(err).splitlines()[0]}); please report this") from None
    check_same_function(model, theirs, config)
    contract = model.data_contract
    data = {}
    if contract is not None and contract.mean is not None:
        data = {"mean": tuple(contract.mean), "std": tuple(contract.std), "interpolation": contract.interpolation,
                "crop_pct": contract.crop_pct if contract.crop_pct is not None else 1.0, "crop_mode": contract.crop_mode}
    labels = {"label_names": list(model.class_names)} if model.class_names and config.num_classes else {}
    save_for_hf(theirs, str(directory), model_config={**labels, "pretrained_cfg": {"tag": ""}}, safe_serialization=True, data_config=data)
    return directory


def check_same_function(ours: torch.nn.Module, theirs: torch.nn.Module, config: ModelConfig) -> None:
    """One random batch through both, in eval mode; a difference is a bug here, never the user's."""
    images = torch.randn(2, config.in_chans, config.img_size, config.img_size, generator=torch.Generator().manual_seed(0))
    was_training = ours.training
    ours.eval(), theirs.eval()
    with torch.no_grad():
        pairs = [(ours.forward_features(images), theirs.forward_features(images)), (ours(images), theirs(images))]
    ours.train(was_training)
    for a, b in pairs:
        if a.shape != b.shape or (a - b).abs().max() > 1e-4 * max(1.0, float(a.abs().max())):
            raise WeightsError(f"the {type(theirs).__name__} written would not compute this model's function (shapes {tuple(a.shape)} and "
                               f"{tuple(b.shape)}, max difference {float((a - b).abs().max()) if a.shape == b.shape else 'n/a'}); please report this")
