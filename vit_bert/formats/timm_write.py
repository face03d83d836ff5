"""vit_bert image models -> a timm Hub folder that ``timm.create_model("local-dir:" + folder)`` loads, computing the same
function: config.json (the architecture, its ``model_args``, ``label_names`` and a ``pretrained_cfg`` with the model's
mean, std, crop and filter) and model.safetensors, written by timm's own ``save_for_hf``.

    save_timm(model, directory) -> directory
    timm_architecture(config, vit_keys) -> (registered timm name, model_args): a VisionTransformer, or an Eva for rotary
                                   positions (EVA-02, DINOv3), registered with what no model_arg can say (norm kind and
                                   eps, gated MLP, the optional parts: timm drops a model_arg of None) as the model's,
                                   one of exactly its weights first (a vit-s/16 preset leaves as ``vit_small_patch16_224``)
    timm_vit_keys(model)        -> the model's plain tensors in timm VisionTransformer's keys (what the writers start from)
    timm_weights(theirs, vit_keys) -> the tensors in that timm model's keys: the reader's key map (``timm_keys``) run
                                   backwards, by probing it
A model timm cannot express (text, a conv stem, a patch bias that does not follow ``norm_pre`` as timm's does, a key
bias in an Eva) stops with one line saying why; a pooler head (transformers' ViTModel's) is left out with a warning, the
encoder written. The timm model is checked against this one on a
random batch before anything is written. Training-only settings (rotary coordinate augmentation, dropout) are the
architecture's.
"""

from __future__ import annotations

import logging
from pathlib import Path

import timm
import torch
from timm.models import save_for_hf

from ..config import ModelConfig
from ..errors import ConfigError, WeightsError
from .timm_facts import TIMM_POOLS, facts_table, rotary_signature, weights_signature
from .timm_keys import eva_state_dict, invert_by_probe, vit_bert_to_timm_vit

log = logging.getLogger(__name__)
POOLS = {ours: theirs for theirs, ours in TIMM_POOLS.items()}
ACTS = {"gelu": "gelu", "gelu_tanh": "gelu_tanh", "quick_gelu": "quick_gelu", "silu": "silu"}


def check_expressible(config: ModelConfig) -> None:
    why = None
    eva = config.rope_theta is not None
    if config.modality != "image":
        why = "timm has no text models; save it with format='transformers'"
    elif config.stem != "patch":
        why = "its conv stem has no counterpart in timm's VisionTransformer (a linear patch embedding)"
    elif not eva and config.patch_bias == config.norm_pre:
        why = f"timm gives the patch embedding a bias exactly when there is no norm_pre; this model has patch_bias={config.patch_bias} with norm_pre={config.norm_pre}"
    elif config.mlp_bias != config.proj_bias:
        why = "timm biases the MLP exactly when it biases the attention projection (proj_bias); this model differs"
    elif config.act not in ACTS:
        why = f"act={config.act!r} is not one of timm's VisionTransformer activations ({', '.join(ACTS)})"
    elif config.mlp_hidden is not None and int(config.dim * config.mlp_hidden / config.dim) != config.mlp_hidden:
        why = f"its MLP width {config.mlp_hidden} is not int(dim * mlp_ratio) for any ratio timm would compute"
    elif config.pool not in POOLS or (eva and config.pool not in ("cls", "mean")):
        why = f"pool={config.pool!r} has no timm {'Eva ' if eva else ''}global_pool"
    elif eva and config.qkv_bias and config.k_bias:
        why = "timm's Eva biases queries and values only; this model has a key bias (k_bias=True)"
    if why:
        raise ConfigError(f"this model cannot be written as a timm model: {why}")


def _hidden(config: ModelConfig) -> int:
    return config.mlp_hidden or int(config.dim * config.mlp_ratio)


def vit_args(config: ModelConfig) -> dict:
    return dict(
        img_size=config.img_size, patch_size=config.patch_size, in_chans=config.in_chans, num_classes=config.num_classes,
        global_pool=POOLS[config.pool], embed_dim=config.dim, depth=config.depth, num_heads=config.heads, mlp_ratio=_hidden(config) / config.dim,
        qkv_bias=config.qkv_bias, qk_norm=config.qk_norm, scale_mlp_norm=config.mlp_norm, proj_bias=config.proj_bias,
        init_values=config.layer_scale, class_token=config.class_token, pos_embed="none" if config.pos_embed == "none" else "learn",
        no_embed_class=config.no_embed_class, reg_tokens=config.reg_tokens, pre_norm=config.norm_pre, final_norm=config.final_norm,
        fc_norm=config.fc_norm, act_layer=ACTS[config.act], scale_attn_norm=False, pool_include_prefix=False, dynamic_img_size=False,
    )


def eva_args(config: ModelConfig) -> dict:
    return dict(
        img_size=config.img_size, patch_size=config.patch_size, in_chans=config.in_chans, num_classes=config.num_classes,
        global_pool=POOLS[config.pool], embed_dim=config.dim, depth=config.depth, num_heads=config.heads, qkv_bias=config.qkv_bias,
        qk_norm=config.qk_norm, mlp_ratio=_hidden(config) / config.dim, swiglu_mlp=config.mlp == "glu", scale_mlp=config.mlp_norm,
        scale_attn_inner=False, init_values=config.layer_scale, class_token=config.class_token, num_reg_tokens=config.reg_tokens,
        no_embed_class=config.no_embed_class, use_abs_pos_emb=config.pos_embed == "learned", use_rot_pos_emb=True,
        rope_type="cat" if config.rope_grid == "index" else "dinov3", rope_temperature=config.rope_theta,
        rope_rotate_half=config.rope_layout == "half", use_fc_norm=config.fc_norm, use_post_transformer_norm=config.final_norm,
        ref_feat_shape=config.rope_ref_grid, dynamic_img_size=False,
    )


def _kind(signature: str) -> tuple:
    """A weights signature less what model_args set (sizes, depth, the register count, the patch grid): whether the MLP is
    gated, the prefix tokens but registers, and the optional parts."""
    _, mlp, _, prefix, *flags = signature.split("/")
    fc1, fc2 = mlp.split("-")
    return int(fc1) == 2 * int(fc2), tuple(p for p in prefix.split("+") if not p.startswith("reg")), tuple(f for f in flags if not f.startswith("grid"))


def timm_architecture(config: ModelConfig, vit_keys: dict[str, torch.Tensor]) -> tuple[str, dict]:
    check_expressible(config)
    eva = config.rope_theta is not None
    signature = rotary_signature(vit_keys) if eva else weights_signature(vit_keys)

    def agrees(entry: dict, sig: str) -> bool:
        if entry["norm"] != config.norm or entry["ln_eps"] != config.ln_eps or _kind(sig) != _kind(signature) or (entry.get("eva") is None) == eva:
            return False
        return not eva or (entry["eva"].get("rope_grid"), entry["eva"].get("rope_layout")) == (config.rope_grid, config.rope_layout)

    found = [(sig, entry) for sig, entries in facts_table().items() for entry in entries if agrees(entry, sig)]
    if not found:
        raise ConfigError(f"this model cannot be written as a timm model: no registered timm {'Eva' if eva else 'VisionTransformer'} has "
                          f"its parts ({signature}) with norm={config.norm!r} and ln_eps={config.ln_eps} (timm fixes the eps by architecture)")
    exact = [entry for sig, entry in found if sig == signature and entry["heads"] == config.heads and entry["act"] == config.act
             and entry["pool"] == config.pool]
    width = [entry for sig, entry in found if sig.split("/")[0] == signature.split("/")[0]]
    names = (exact or width or [entry for _, entry in found])[0]["names"]
    # timm's plain name of this patch and input size first (vit_small_patch16_224, not deit_small_patch16_224)
    name = min(names, key=lambda n: (not n.startswith(("vit_", "eva02_")), f"patch{config.patch_size}" not in n, f"_{config.img_size}" not in n, len(n)))
    return name, eva_args(config) if eva else vit_args(config)


def timm_weights(theirs: torch.nn.Module, vit_keys: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``vit_keys`` in ``theirs``'s own keys: each of its tensors found, by probing, in the ViT keys the reader maps it to."""
    own = theirs.state_dict()
    where = invert_by_probe({key: value.shape for key, value in own.items()}, eva_state_dict)
    out = {}
    for key, value in own.items():
        if key not in where or where[key][0] not in vit_keys:
            continue  # a buffer timm recomputes, or a part this model lacks: the strict load names it
        source, start, end = where[key]
        out[key] = vit_keys[source].reshape(-1, *value.shape[1:])[start:end].reshape(value.shape) if value.ndim else vit_keys[source].reshape(-1)[start]
    return out


def timm_vit_keys(model) -> dict[str, torch.Tensor]:
    config = model.config
    keys = vit_bert_to_timm_vit(model.plain_state_dict(), config.patch_size)
    if config.pos_embed == "sincos":  # a buffer no state dict holds: the table it computes
        keys["pos_embed"] = model.frontend.pos_embed.detach().clone()
    if config.qkv_bias and not config.k_bias:  # the key rows vit_bert masks out: zeros, as they act
        for index in range(config.depth):
            bias = keys[f"blocks.{index}.attn.qkv.bias"].clone()
            bias[config.dim: 2 * config.dim] = 0
            keys[f"blocks.{index}.attn.qkv.bias"] = bias
    for head in ("head", "head_dist"):  # no classifier bias: a zero one
        if f"{head}.weight" in keys and f"{head}.bias" not in keys:
            keys[f"{head}.bias"] = torch.zeros(config.num_classes)
    return keys


def save_timm(model: torch.nn.Module, directory: str | Path) -> Path:
    config, directory = model.config, Path(directory)
    check_expressible(config)
    vit_keys = timm_vit_keys(model)
    if config.head_pooler:  # timm's ViTs have no pooler: the head is left out, the encoder written
        log.warning("not written: the head (a %s pooler over [CLS]%s), which timm's VisionTransformer has no part for; the folder "
                    "holds the encoder (forward_features), for a new head there", config.pooler_act, ", then the classifier" if config.num_classes else "")
        config = config.replace(head_pooler=False, num_classes=0)
        vit_keys = {k: v for k, v in vit_keys.items() if not k.startswith(("head.", "head_dist."))}
    name, args = timm_architecture(config, vit_keys)
    theirs = timm.create_model(name, pretrained=False, **args)
    try:
        theirs.load_state_dict(timm_weights(theirs, vit_keys), strict=True)
    except RuntimeError as err:  # the architecture chosen has a part this model lacks, or the reverse
        raise ConfigError(f"this model cannot be written as timm's {name}: {str(err).splitlines()[1].strip()}") from None
    check_same_function(model, theirs, config, with_head=not model.config.head_pooler)
    contract = model.data_contract
    data = {}
    if contract is not None and contract.mean is not None:
        data = {"mean": tuple(contract.mean), "std": tuple(contract.std), "interpolation": contract.interpolation,
                "crop_pct": contract.crop_pct if contract.crop_pct is not None else 1.0, "crop_mode": contract.crop_mode}
    labels = {"label_names": list(model.class_names)} if model.class_names and config.num_classes else {}
    save_for_hf(theirs, str(directory), model_config={**labels, "pretrained_cfg": {"tag": ""}}, safe_serialization=True, data_config=data)
    return directory


def check_same_function(ours: torch.nn.Module, theirs: torch.nn.Module, config: ModelConfig, *, with_head: bool = True) -> float:
    """One random batch through both, in eval mode (and their heads, ``with_head``); -> the max difference. One beyond
    float32 noise is a bug here, never the user's."""
    images = torch.randn(2, config.in_chans, config.img_size, config.img_size, generator=torch.Generator().manual_seed(0))
    was_training = ours.training
    ours.eval(), theirs.eval()
    with torch.no_grad():
        pairs = [(ours.forward_features(images), theirs.forward_features(images))]
        if with_head:
            pairs.append((ours(images), theirs(images)))
    ours.train(was_training)
    for a, b in pairs:
        if a.shape != b.shape or (a - b).abs().max() > 1e-4 * max(1.0, float(a.abs().max())):
            raise WeightsError(f"the {type(theirs).__name__} written would not compute this model's function (shapes {tuple(a.shape)} and "
                               f"{tuple(b.shape)}, max difference {float((a - b).abs().max()) if a.shape == b.shape else 'n/a'}); please report this")
    return max(float((a - b).abs().max()) for a, b in pairs)
