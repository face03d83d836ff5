"""timm VisionTransformer state dicts (ViT, DeiT, DeiT III, DINOv2 +/- registers, CLIP, SigLIP) -> vit_bert config + state dict.

timm keys: ``cls_token`` (1, 1, D), ``dist_token`` (1, 1, D), ``reg_token`` (1, R, D), ``pos_embed`` (1, [prefix +] N, D),
``patch_embed.proj.{weight (D, C, P, P), bias}``, ``norm_pre``, ``blocks.i.{norm1, attn.qkv, attn.q_norm, attn.k_norm,
attn.proj, ls1.gamma, norm2, mlp.fc1, mlp.fc2, ls2.gamma}``, ``norm``, ``fc_norm``, ``attn_pool.*``, ``head``, ``head_dist``.

Most of the architecture is in the keys and shapes (``weights_signature``). Five facts are not: the head count, the
MLP activation, the norm kind and epsilon, and the pooling; nor, for a timm Eva (EVA-02, DINOv3; its tensors in these
keys by ``timm_eva.eva_state_dict``), the rotary settings. A timm model object says them (``facts_of_model``); for a
bare state dict they come from ``timm_vit_heads.json``, the facts of every registered timm ViT and Eva keyed by its
weights' signature (made by ``scripts/timm_vit_heads.py``; an Eva's signature adds its patch grid, which its rotary
settings follow), and only when an architecture of exactly that signature is registered and all such agree; otherwise
loading stops and asks for what is missing (``heads=``, ``act=`` ..., or the timm model object for rotary settings).
"""

from __future__ import annotations

import json
import logging
import math

import torch
from torch import nn

from ..errors import AmbiguousWeightsError, WeightsError
from ..formats.timm_facts import FACTS, TIMM_POOLS, depth as _depth, facts_table, rotary_signature, weights_signature
from ..layers.checks import head_counts
from ..formats.timm_keys import has_eva_keys
from .timm_eva import check_eva_blocks, eva_fields, is_timm_eva

log = logging.getLogger(__name__)

TIMM_DEFAULTS = {"act": "gelu", "ln_eps": 1e-6, "norm": "layernorm", "pool": "cls"}  # timm VisionTransformer's constructor


def act_name(module: nn.Module) -> str | None:
    """The config name of an activation module, or None for one vit_bert does not have."""
    if isinstance(module, nn.GELU):
        return "gelu" if module.approximate == "none" else "gelu_tanh"
    return {"QuickGELU": "quick_gelu", "SiLU": "silu", "GELU": "gelu", "GELUTanh": "gelu_tanh"}.get(type(module).__name__)  # timm's own


def norm_name(module: nn.Module) -> str | None:
    if isinstance(module, nn.LayerNorm) and module.bias is not None:
        return "layernorm"
    return "rmsnorm" if type(module).__name__ in ("RMSNorm", "RmsNorm") else None


def facts_of_model(model: nn.Module) -> dict:
    """The ``FACTS`` of a timm VisionTransformer object, and ``eva``: an Eva's own fields (``timm_eva.eva_fields``) or
    None. Blocks, attention or MLPs of a kind vit_bert does not compute stop here, naming what differs (a state dict could not tell)."""
    block = model.blocks[0]
    eva = None
    if is_timm_eva(model):
        check_eva_blocks(model)
        eva = eva_fields(model)
    else:
        kinds = {"block": type(block).__name__, "attention": type(block.attn).__name__}
        expected = {"block": ("Block",), "attention": ("Attention",)}
        for part, name in kinds.items():
            if name not in expected[part]:
                raise WeightsError(f"{type(model).__name__}'s {part} is timm's {name}; vit_bert computes {' or '.join(expected[part])} "
                                   "(pre-norm residual blocks with one fused qkv projection)")
    mlp = type(block.mlp).__name__
    if mlp not in ("Mlp", "GluMlp", "SwiGLU"):
        raise WeightsError(f"{type(model).__name__}'s MLP is timm's {mlp}; vit_bert computes Mlp, GluMlp or SwiGLU")
    if mlp == "GluMlp" and block.mlp.gate_last:
        raise WeightsError("the gated MLP gates its second half (timm gate_last=True); vit_bert's 'glu' gates the first (SwiGLUPacked)")
    act, norm = act_name(block.mlp.act), norm_name(block.norm1)
    if act is None:
        raise WeightsError(f"the MLP activation {type(block.mlp.act).__name__} is not one of vit_bert's act settings (gelu, gelu_tanh, quick_gelu, silu)")
    if norm is None:
        raise WeightsError(f"the norm layer {type(block.norm1).__name__} is not one of vit_bert's norm settings (layernorm, rmsnorm)")
    pool = getattr(model, "global_pool", "token") if getattr(model, "attn_pool", None) is None else "map"
    if pool not in TIMM_POOLS:
        raise WeightsError(f"timm global_pool={pool!r} has no vit_bert pool setting; vit_bert pools by 'token' (cls), 'avg' (mean), 'max' or 'map'")
    return {"heads": block.attn.num_heads, "act": act, "ln_eps": float(block.norm1.eps), "norm": norm, "pool": TIMM_POOLS[pool],
            "eva": eva}


def registered_facts(state_dict: dict) -> list[dict]:
    """The facts of timm's registered ViTs and Evas whose weights (in ViT keys) have this signature (each with its names;
    an Eva's with its ``eva`` fields)."""
    table = facts_table()
    return table.get(weights_signature(state_dict), []) + table.get(rotary_signature(state_dict), [])


def _eva_of(entry: dict, given: dict) -> str:
    """An entry's Eva fields but those the user gives, hashable; 'null' for a ViT (learned positions)."""
    eva = entry.get("eva")
    return json.dumps(eva if eva is None else {k: v for k, v in eva.items() if given.get(k) is None}, sort_keys=True)


def _check_positions_agree(found: list[dict], given: dict) -> None:
    """Registered architectures of one signature may differ in their rotary settings (or have none): say which to pass."""
    if len({_eva_of(entry, given) for entry in found}) < 2:
        return
    if not all(entry.get("eva") for entry in found):
        names = "; ".join(f"{entry['names'][0]} ({'rotary' if entry.get('eva') else 'learned'} positions)" for entry in found)
        raise AmbiguousWeightsError(f"timm's architectures with these weights differ in their positions ({names}); load the timm model "
                                    "object or its timm name instead")
    fields = sorted({k for entry in found for k, v in entry["eva"].items() if given.get(k) is None and v != found[0]["eva"].get(k)})
    listed = "; ".join(", ".join(f"{k}={entry['eva'].get(k)!r}" for k in fields) + f": {entry['names'][0]}" for entry in found)
    raise AmbiguousWeightsError(f"timm's architectures with these weights differ in their rotary settings ({listed}); pass "
                                f"{', '.join(f'{k}=' for k in fields)}, or load the timm model object or its timm name instead")


def infer_facts(state_dict: dict, given: dict) -> dict:
    """The ``FACTS`` and ``eva`` fields of a bare state dict in ViT keys: ``given`` (the user's overrides) first, then timm's
    registered architectures of exactly this signature, when they agree on everything not given. Weights of no registered
    signature need ``heads=``; their other facts are timm VisionTransformer's defaults, said in a warning."""
    missing = [name for name in FACTS if given.get(name) is None]
    stated = {name: given[name] for name in FACTS if given.get(name) is not None}
    found = registered_facts(state_dict)
    _check_positions_agree(found, given)
    eva = found[0].get("eva") if found else None  # the fields the user gives override it later
    options = {tuple(entry[name] for name in missing) for entry in found}
    if not missing or len(options) == 1:
        return {**(dict(zip(missing, next(iter(options)))) if missing else {}), **stated, "eva": eva}
    dim = state_dict["patch_embed.proj.weight"].shape[0]
    signature = weights_signature(state_dict)
    if not found and "heads" in stated:
        assumed = {name: TIMM_DEFAULTS[name] for name in missing}
        log.warning("no timm architecture has exactly these weights (%s): assuming timm VisionTransformer's defaults %s; "
                    "pass them to load_pretrained if the model was built otherwise", signature, assumed)
        return {**assumed, **stated, "eva": None}
    if found:
        asked = [name for i, name in enumerate(missing) if len({option[i] for option in options}) > 1]
        listed = "; ".join(", ".join(f"{name}={entry[name]!r}" for name in asked) + f": {entry['names'][0]}" for entry in found)
        known = f"timm's architectures with these weights disagree ({listed})"
    else:
        known, asked = "no architecture registered in timm has exactly these weights", ["heads"]
    what = ", ".join("the attention head count" if name == "heads" else name for name in asked)
    raise AmbiguousWeightsError(
        f"the state dict does not store {what} (signature {signature}), and {known}; pass {', '.join(f'{name}=' for name in asked)}"
        f"{f' (a divisor of {dim}: {head_counts(dim)})' if 'heads' in asked else ''}, or load the timm model object or its timm name instead"
    )


def is_timm_vit(state_dict: dict) -> bool:
    return "patch_embed.proj.weight" in state_dict and any(k.startswith("blocks.") for k in state_dict)


def _grid(state_dict: dict, prefix: int, no_embed_class: bool | None) -> tuple[int, bool]:
    """(patch grid side, no_embed_class) from the position table's length: it covers the prefix tokens and the patches,
    or the patches alone; a square patch count tells which (the model object says it outright)."""
    length = state_dict["pos_embed"].shape[1]
    if prefix == 0:
        no_embed_class = False  # nothing to leave out: the same table either way
    candidates = [(math.isqrt(n), flag) for n, flag in ((length - prefix, False), (length, True))
                  if n > 0 and math.isqrt(n) ** 2 == n and (no_embed_class is None or no_embed_class == flag)]
    if len(candidates) != 1:
        raise WeightsError(f"timm pos_embed holds {length} positions for {prefix} prefix tokens: "
                           f"{'neither' if not candidates else 'both'} the prefix + a square patch grid nor a square grid alone; "
                           "load the timm model object, which says which")
    return candidates[0]


def _check_parts(state_dict: dict) -> None:
    unknown = sorted({k.split(".")[0] for k in state_dict} - {"cls_token", "dist_token", "reg_token", "pos_embed", "patch_embed", "norm_pre",
                                                               "blocks", "norm", "fc_norm", "attn_pool", "head", "head_dist"})
    if unknown:
        raise WeightsError(f"the weights hold parts vit_bert has no setting for: {', '.join(unknown)}")


def check_representable(state_dict: dict, vit_keys: dict) -> None:
    """Stop with one line naming what vit_bert cannot compute, before anything else is asked of the user. The tensors of
    a timm ViT or Eva as given and in ViT keys (``timm_eva.eva_state_dict``): an Eva's rotary settings only a registered
    architecture's entry can give."""
    _check_parts(vit_keys)
    rotary = has_eva_keys(state_dict) or "pos_embed" not in state_dict
    if rotary and not any(entry.get("eva") for entry in registered_facts(vit_keys)):
        what = "the tensors of a timm Eva (EVA-02, DINOv3)" if has_eva_keys(state_dict) else "weights with no pos_embed (rotary positions)"
        raise WeightsError(f"these are {what}, whose rotary settings no tensor stores; load the timm model object or its timm name "
                           "instead (no architecture registered in timm has exactly these weights)")


def timm_vit_config(state_dict: dict[str, torch.Tensor], facts: dict, no_embed_class: bool | None = None) -> dict:
    """ModelConfig fields: read off the tensors (in ViT keys), with ``facts`` (``FACTS`` and ``eva``) from the model object
    or ``infer_facts``. An Eva's ``eva`` fields (``timm_eva.eva_fields``) decide the image size when there is no position table."""
    _check_parts(state_dict)
    eva = facts.get("eva")
    if "pos_embed" not in state_dict and eva is None:
        raise WeightsError("the weights have no pos_embed and no rotary settings; load the timm model object or its timm name instead")
    dim, in_chans, patch_size, _ = state_dict["patch_embed.proj.weight"].shape
    fc1, fc2 = state_dict["blocks.0.mlp.fc1.weight"], state_dict["blocks.0.mlp.fc2.weight"]
    if fc1.shape[0] not in (fc2.shape[1], 2 * fc2.shape[1]):
        raise WeightsError(f"mlp.fc1 makes {fc1.shape[0]} features and fc2 reads {fc2.shape[1]}; vit_bert's MLPs have them equal (mlp) or fc1 twice fc2 (glu)")
    latent = state_dict.get("attn_pool.latent")
    if latent is not None and latent.shape[1] != 1:
        raise WeightsError(f"attention pooling with {latent.shape[1]} latent queries; vit_bert's pool='map' has one")
    class_token, dist_token = "cls_token" in state_dict, "dist_token" in state_dict
    reg_tokens = state_dict["reg_token"].shape[1] if "reg_token" in state_dict else 0
    if "pos_embed" in state_dict:
        grid, no_embed_class = _grid(state_dict, int(class_token) + int(dist_token) + reg_tokens, no_embed_class)
    else:
        grid, no_embed_class = eva["img_size"] // patch_size, False
    hidden = fc2.shape[1]
    head = state_dict.get("head.weight")
    if latent is not None:
        pool = "map"  # the attention pool's weights say so
    else:
        pool = facts["pool"] if facts["pool"] != "cls" or class_token else "mean"
    fields = dict(
        modality="image",
        dim=dim,
        depth=_depth(state_dict),
        heads=facts["heads"],
        mlp="glu" if fc1.shape[0] == 2 * hidden else "mlp",
        mlp_ratio=hidden / dim,
        mlp_hidden=None if int(dim * (hidden / dim)) == hidden else hidden,
        act=facts["act"],
        pre_norm=True,
        norm=facts["norm"],
        ln_eps=facts["ln_eps"],
        final_norm="norm.weight" in state_dict,
        qkv_bias="blocks.0.attn.qkv.bias" in state_dict,
        proj_bias="blocks.0.attn.proj.bias" in state_dict,
        mlp_bias="blocks.0.mlp.fc1.bias" in state_dict,
        qk_norm="blocks.0.attn.q_norm.weight" in state_dict,
        layer_scale=1e-5 if "blocks.0.ls1.gamma" in state_dict else None,  # the initial value; the weights hold the learned one
        pool=pool,
        fc_norm="fc_norm.weight" in state_dict,
        head_pooler=False,
        num_classes=head.shape[0] if head is not None else 0,
        img_size=grid * patch_size,
        patch_size=patch_size,
        patch_bias="patch_embed.proj.bias" in state_dict,
        in_chans=in_chans,
        class_token=class_token,
        dist_token=dist_token,
        reg_tokens=reg_tokens,
        pos_embed="learned",
        no_embed_class=no_embed_class,
        norm_pre="norm_pre.weight" in state_dict,
        mlp_norm="blocks.0.mlp.norm.weight" in state_dict,
    )
    return {**fields, **(eva or {})}


