"""Side-by-side speed of vit_bert and the libraries users would pick instead, on the same work.

    python benchmarks/speed.py                          # CPU rows, fp32 (+ bf16 where the CPU has bf16 units)
    python benchmarks/speed.py --device cuda --rows vit-b/16 --batch 128 --precisions bf16
    python benchmarks/speed.py --rows bert-mini --compile   # adds torch.compile rows for vit_bert
    python benchmarks/speed.py --rows dinov2-s/14-reg4 deit3-s/16 ...   # the ViT families against timm
    python benchmarks/speed.py --rows hf-vit hf-dinov2 ...   # the Hugging Face image families against transformers' SDPA

Each row builds the reference model (a timm VisionTransformer of the row's family, or transformers
BertForSequenceClassification with SDPA attention), loads the *same weights* into vit_bert
through ``vit_bert.load_pretrained``, and times both, interleaved, on identical inputs:
    train: forward + cross-entropy + backward + AdamW step;  infer: forward under inference_mode.
Text inputs are padded to seq_len with ~30 % padding (real lengths uniform in [0.4, 1] x seq_len).
Reported: median ms per step, samples/s, peak memory allocated during the step on top of the
weights and optimizer state (CUDA allocator; on CPU torch.profiler's allocation events), ratio = reference time / vit_bert time (> 1: vit_bert
faster), and MFU = model FLOP/s / the matmul peak measured in the same run at that precision
(model FLOPs: each model's own forward counted by torch.utils.flop_counter, x3 for training;
vit_bert's text rows count fewer FLOPs because it skips the padding).
Prints a table and writes JSON (--json).
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import vit_bert  # noqa: E402
from machine import cpu_model  # noqa: E402

_HF_S = dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, intermediate_size=1536, image_size=224, patch_size=16)
ROWS = {
    "vit-cifar/4": {"kind": "vit", "batch": 128, "timm": dict(img_size=32, patch_size=4, embed_dim=192, depth=6, num_heads=3, mlp_ratio=2.0, num_classes=10)},
    "vit-ti/16": {"kind": "vit", "batch": 32, "timm": dict(model_name="vit_tiny_patch16_224")},
    "vit-s/16": {"kind": "vit", "batch": 32, "timm": dict(model_name="vit_small_patch16_224")},
    "vit-b/16": {"kind": "vit", "batch": 32, "timm": dict(model_name="vit_base_patch16_224")},
    # the ViT families, at 224 (DINOv2 from its 518 table); ViT-B families at batch 16 to keep a CPU run short
    "dinov2-s/14-reg4": {"kind": "vit", "batch": 32, "timm": dict(model_name="vit_small_patch14_reg4_dinov2", img_size=224, num_classes=10)},
    "dinov2-s/14": {"kind": "vit", "batch": 32, "timm": dict(model_name="vit_small_patch14_dinov2", img_size=224, num_classes=10)},
    "deit3-s/16": {"kind": "vit", "batch": 32, "timm": dict(model_name="deit3_small_patch16_224")},
    "deit-ti/16-distilled": {"kind": "vit", "batch": 32, "timm": dict(model_name="deit_tiny_distilled_patch16_224")},
    "clip-b/16": {"kind": "vit", "batch": 16, "timm": dict(model_name="vit_base_patch16_clip_224")},
    "siglip-b/16": {"kind": "vit", "batch": 16, "timm": dict(model_name="vit_base_patch16_siglip_224", num_classes=10)},
    "eva02-ti/14": {"kind": "vit", "batch": 32, "timm": dict(model_name="eva02_tiny_patch14_224", num_classes=10)},
    "dinov3-s/16": {"kind": "vit", "batch": 32, "timm": dict(model_name="vit_small_patch16_dinov3", img_size=224, num_classes=10)},
    "bert-mini": {"kind": "bert", "batch": 32, "seq": 128, "hf": dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024)},
    "bert-small": {"kind": "bert", "batch": 32, "seq": 128, "hf": dict(hidden_size=512, num_hidden_layers=4, num_attention_heads=8, intermediate_size=2048)},
    # the BERT-architecture text families, base models at bert-small's size: the pooled [CLS] vector (RoBERTa: its pooler)
    "roberta": {"kind": "hf_text", "batch": 32, "seq": 128, "model": "Roberta",
                "hf": dict(hidden_size=512, num_hidden_layers=4, num_attention_heads=8, intermediate_size=2048, pad_token_id=1, type_vocab_size=1)},
    "electra": {"kind": "hf_text", "batch": 32, "seq": 128, "model": "Electra",
                "hf": dict(hidden_size=512, num_hidden_layers=4, num_attention_heads=8, intermediate_size=2048, embedding_size=128)},
    "distilbert": {"kind": "hf_text", "batch": 32, "seq": 128, "model": "DistilBert",
                   "hf": dict(dim=512, n_layers=4, n_heads=8, hidden_dim=2048)},
    # ModernBERT's layout at that size (GeGLU of 1.5 x width, layers 1 and 2 local with its window of 128)
    "modernbert": {"kind": "hf_text", "batch": 32, "seq": 128, "model": "ModernBert",
                   "hf": dict(hidden_size=512, num_hidden_layers=4, num_attention_heads=8, intermediate_size=768, pad_token_id=0,
                              bos_token_id=1, eos_token_id=2, cls_token_id=1, sep_token_id=2)},
    # the Hugging Face image families at ViT-S's size (384 wide, 12 layers, 6 heads), 224 px, read as HF folders
    **{f"hf-{name}": {"kind": "hf_image", "batch": 32, "model": model, "hf": dict(_HF_S, **extra)} for name, (model, extra) in {
        "vit": ("ViT", {}), "deit": ("DeiT", {}), "dinov2": ("Dinov2", {"patch_size": 14}),
        "dinov2-reg": ("Dinov2WithRegisters", {"patch_size": 14, "num_register_tokens": 4}), "clip": ("CLIPVision", {}),
        "siglip": ("SiglipVision", {}), "dinov3": ("DINOv3ViT", {"num_register_tokens": 4}),
    }.items()},
}
DEFAULT_ROWS = ["vit-cifar/4", "vit-ti/16", "vit-s/16", "bert-mini", "bert-small"]
FAMILY_ROWS = ["dinov2-s/14-reg4", "dinov2-s/14", "deit3-s/16", "deit-ti/16-distilled", "clip-b/16", "siglip-b/16",
               "eva02-ti/14", "dinov3-s/16", "roberta", "electra", "distilbert", "modernbert"]
HF_IMAGE_ROWS = [name for name in ROWS if name.startswith("hf-")]
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(device: torch.device, dtype: torch.dtype, seconds: float = 2.0) -> float:
    """FLOP/s of square matmuls at this precision (the MFU denominator): the best single product in ``seconds``.

    The best, not the mean: on a shared machine the mean drifts with other load, the best is what the
    hardware can do (so MFU stays <= 100 %)."""
    n = 8192 if device.type == "cuda" else 2048 if dtype == torch.float32 else 512  # CPU bf16 may be ~100x slower
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    sync(device)
    best, start = float("inf"), time.perf_counter()
    while time.perf_counter() - start < seconds or best == float("inf"):
        t = time.perf_counter()
        a @ b
        sync(device)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def peak_step_memory(step, device: torch.device) -> float:
    """Peak bytes allocated during one step on top of what was allocated before it (weights, optimizer state).

    CUDA: the allocator's peak. CPU: torch.profiler's allocation events replayed in time order."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        step()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    live = peak = 0
    for event in sorted((e for e in prof.events() if e.self_cpu_memory_usage), key=lambda e: e.time_range.start):
        live += event.self_cpu_memory_usage
        peak = max(peak, live)
    return peak


def build_pair(name: str, device: torch.device):
    """-> (vit_bert model, reference model, make_inputs(batch) -> (ours kwargs, reference kwargs, labels))."""
    row = ROWS[name]
    if row["kind"] == "vit":
        import timm

        kwargs = dict(row["timm"])
        reference = timm.create_model(kwargs.pop("model_name", "vit_tiny_patch16_224"), pretrained=False, **kwargs)
        ours = vit_bert.load_pretrained(reference)  # the object: its head count, activation, norm and pooling
        size, classes = reference.patch_embed.img_size, reference.num_classes

        def make_inputs(batch: int):
            images = torch.randn(batch, 3, *size, device=device)
            return {"images": images}, {"x": images}, torch.randint(0, classes, (batch,), device=device)

    elif row["kind"] == "hf_image":  # a base model, written and read back as a Hugging Face folder; the same pooled vector
        import tempfile

        import transformers

        model = row["model"]
        config = getattr(transformers, f"{model}Config")(attn_implementation="sdpa", **row["hf"])
        reference = getattr(transformers, f"{model}Model")(config)
        with tempfile.TemporaryDirectory() as folder:
            reference.save_pretrained(folder)
            ours = vit_bert.load_pretrained(folder, num_classes=0)
        size = row["hf"]["image_size"]

        def make_inputs(batch: int):
            images = torch.randn(batch, 3, size, size, device=device)
            return {"images": images}, {"pixel_values": images}, torch.randint(0, 10, (batch,), device=device)

    else:
        import tempfile

        import transformers

        if row["kind"] == "bert":
            config = transformers.BertConfig(vocab_size=30522, num_labels=2, attn_implementation="sdpa", **row["hf"])
            reference = transformers.BertForSequenceClassification(config)
            ours = vit_bert.load_pretrained(
                reference.state_dict(), heads=config.num_attention_heads, dropout=0.1, attn_dropout=0.1, head_dropout=0.1
            )
        else:  # a base model, written and read back as a Hugging Face folder (its config.json says the family)
            config = getattr(transformers, f"{row['model']}Config")(vocab_size=30522, attn_implementation="sdpa", **row["hf"])
            reference = getattr(transformers, f"{row['model']}Model")(config)
            with tempfile.TemporaryDirectory() as folder:
                reference.save_pretrained(folder)
                ours = vit_bert.load_pretrained(folder, num_classes=0)
        seq = row["seq"]

        def make_inputs(batch: int):
            generator = torch.Generator().manual_seed(0)
            lengths = torch.randint(int(0.4 * seq), seq + 1, (batch,), generator=generator)
            lengths[0] = seq
            ids = torch.randint(1000, 30000, (batch, seq), generator=generator)
            mask = (torch.arange(seq)[None] < lengths[:, None]).long()
            ids = (ids * mask).to(device)
            mask = mask.to(device)
            inputs = {"input_ids": ids, "attention_mask": mask}
            return inputs, inputs, torch.randint(0, 2, (batch,), device=device)

    return ours.to(device), reference.to(device), make_inputs


def logits_of(output) -> torch.Tensor:
    """A classifier's logits; a transformers base model's pooled [CLS] vector (its pooler's, where it has one)."""
    if not hasattr(output, "last_hidden_state"):
        return output.logits if hasattr(output, "logits") else output
    pooled = getattr(output, "pooler_output", None)
    return pooled if pooled is not None else output.last_hidden_state[:, 0]


def make_step(model, inputs: dict, labels: torch.Tensor, mode: str, dtype: torch.dtype, device: torch.device):
    autocast = dict(device_type=device.type, dtype=dtype, enabled=dtype != torch.float32)
    if mode == "infer":
        model.eval()

        def step():
            with torch.inference_mode(), torch.autocast(**autocast):
                return logits_of(model(**inputs))

        return step
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=device.type == "cuda")

    def step():
        with torch.autocast(**autocast):
            logits = logits_of(model(**inputs))
        F.cross_entropy(logits.float(), labels).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def time_pair(steps: dict, device: torch.device, repeats: int, warmup: int) -> dict[str, list[float]]:
    """Interleaved timing: each repeat runs every contender once, so drift hits all alike."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    sync(device)
    times = {key: [] for key in steps}
    for _ in range(repeats):
        for key, step in steps.items():
            sync(device)
            start = time.perf_counter()
            step()
            sync(device)
            times[key].append(time.perf_counter() - start)
    return times


def forward_flops(model, inputs: dict) -> int:
    model.eval()
    # With gradients on: under no_grad, FlopCounterMode's module tracker fails on a view of a parameter fed to a
    # Linear (timm's AttentionPoolLatent expands its latent query so; torch 2.14), in timm's model and in ours alike.
    with FlopCounterMode(display=False) as counter:
        model(**inputs)
    return counter.get_total_flops()


def run_row(name: str, args, device: torch.device, peaks: dict) -> list[dict]:
    torch.manual_seed(0)
    ours, reference, make_inputs = build_pair(name, device)
    batch = args.batch or ROWS[name]["batch"]
    our_inputs, ref_inputs, labels = make_inputs(batch)
    contenders = {"vit_bert": (ours, our_inputs), "reference": (reference, ref_inputs)}
    # Each model's own forward: vit_bert skips padded tokens, so it does less work than the reference.
    flops = {key: forward_flops(model, inputs) for key, (model, inputs) in contenders.items()}
    if args.compile:
        compiled = copy.deepcopy(ours)
        compiled.compile()  # in place, like model.compile in ClassificationTask
        contenders["vit_bert compiled"] = (compiled, our_inputs)
        flops["vit_bert compiled"] = flops["vit_bert"]
    results = []
    for precision in args.precisions:
        dtype = DTYPES[precision]
        if precision not in peaks:
            continue
        for mode in args.modes:
            steps = {key: make_step(model, inputs, labels, mode, dtype, device) for key, (model, inputs) in contenders.items()}
            warmup = args.warmup + (3 if args.compile else 0)
            times = time_pair(steps, device, args.repeats, warmup)
            memory = {key: peak_step_memory(step, device) for key, step in steps.items()}
            ref_ms = statistics.median(times["reference"]) * 1e3
            for key in steps:
                ms = statistics.median(times[key]) * 1e3
                results.append({
                    "row": name, "library": key, "mode": mode, "precision": precision, "batch": batch,
                    "median_ms": ms, "samples_per_s": batch / ms * 1e3, "peak_mem_mb": memory[key] / 2**20,
                    "ratio": ref_ms / ms, "mfu": flops[key] * (3 if mode == "train" else 1) / (ms / 1e3) / peaks[precision],
                })
            print_rows(results[-len(steps):])
    return results


HEADER = f"{'row':<12} {'library':<18} {'mode':<6} {'prec':<5} {'batch':>5} {'ms':>9} {'samples/s':>10} {'peak MB':>8} {'ratio':>6} {'MFU':>6}"


def print_rows(rows: list[dict]) -> None:
    for r in rows:
        mem = f"{r['peak_mem_mb']:.0f}"
        print(f"{r['row']:<12} {r['library']:<18} {r['mode']:<6} {r['precision']:<5} {r['batch']:>5} {r['median_ms']:>9.1f} "
              f"{r['samples_per_s']:>10.1f} {mem:>8} {r['ratio']:>6.2f} {r['mfu']:>6.1%}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", nargs="+", default=DEFAULT_ROWS, choices=list(ROWS), help=f"the ViT families: {' '.join(FAMILY_ROWS)}")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=list(DTYPES))
    parser.add_argument("--modes", nargs="+", default=["train", "infer"], choices=["train", "infer"])
    parser.add_argument("--batch", type=int, help="override every row's batch size")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--compile", action="store_true", help="add vit_bert rows run through torch.compile")
    parser.add_argument("--force-bf16", action="store_true", help="time bf16 even where it is far slower than fp32")
    parser.add_argument("--spec-peak-tflops", type=float, help="also report MFU against this datasheet peak (e.g. 989 for H100/H200 bf16 dense)")
    parser.add_argument("--json", default="benchmarks/results/speed.json")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    peaks = {p: matmul_peak(device, DTYPES[p]) for p in args.precisions}
    machine = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{cpu_model()}, {torch.get_num_threads()} threads"
    print(f"device: {machine}; torch {torch.__version__}; matmul peak: " + ", ".join(f"{p} {v / 1e9:.0f} GFLOP/s" for p, v in peaks.items()))
    if "bf16" in peaks and "fp32" in peaks and device.type == "cpu" and peaks["bf16"] < 0.5 * peaks["fp32"] and not args.force_bf16:
        print(f"bf16 rows skipped: this CPU has no bf16 matrix units (bf16 matmul {peaks['bf16'] / 1e9:.1f} vs fp32 "
              f"{peaks['fp32'] / 1e9:.0f} GFLOP/s); --force-bf16 times them anyway")
        del peaks["bf16"]
    print(HEADER)
    results = [r for name in args.rows for r in run_row(name, args, device, peaks)]
    if args.spec_peak_tflops:
        for r in results:
            r["mfu_spec"] = r["mfu"] * peaks[r["precision"]] / (args.spec_peak_tflops * 1e12)
        print(f"MFU against the datasheet peak of {args.spec_peak_tflops:.0f} TFLOP/s: " + "; ".join(
            f"{r['library']} {r['mode']} {r['precision']} {r['mfu_spec']:.1%}" for r in results))
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"device": machine, "torch": torch.__version__, "peaks_flops": peaks, "results": results}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
