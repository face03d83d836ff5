#!/usr/bin/env bash
# GPU check, at most ~8 minutes on one GPU (H100/H200 class). From the repository root:
#   bash benchmarks/gpu.sh [OUT_DIR]
# (a) speed.py at ViT-B/16 224, batch 128, bf16, vit_bert vs timm (eager and torch.compile),
#     MFU against the measured bf16 matmul peak and the 989 TFLOP/s datasheet bf16 dense peak;
# then benchmarks/memory.py (activation checkpointing at ViT-B/16 batch 32, bf16);
# (b) trains configs/cifar10_vit.yaml for EPOCHS epochs (default 15) and prints test accuracy and time;
# (c) benchmarks/e2e.py: that config's train.py throughput against its bare training step.
# CIFAR-10: an ImageFolder copy at $CIFAR_DIR, or the JPEG tarball data/cifar10-jpeg.tar.gz, else
# torchvision's download into data/ (needs internet).
set -euo pipefail
OUT_DIR=${1:-benchmarks/results}
EPOCHS=${EPOCHS:-15}
mkdir -p "$OUT_DIR"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

echo "== (a) speed: ViT-B/16 224, batch 128, bf16"
python3 benchmarks/speed.py --device cuda --rows vit-b/16 --batch 128 --precisions bf16 --compile \
    --repeats 10 --warmup 3 --spec-peak-tflops 989 --json "$OUT_DIR/speed_gpu.json" || echo "speed.py failed (exit $?)"

echo "== activation checkpointing: ViT-B/16 224, batch 32, bf16"
python3 benchmarks/memory.py --device cuda --precision bf16 --json "$OUT_DIR/memory_gpu.json" || echo "memory.py failed (exit $?)"

echo "== (b) CIFAR-10, configs/cifar10_vit.yaml, $EPOCHS epochs"
DATA_ARGS=()
if [ -n "${CIFAR_DIR:-}" ]; then
    DATA_ARGS=(--data.dataset folder --data.root "$CIFAR_DIR")
elif [ -f data/cifar10-jpeg.tar.gz ]; then
    CIFAR_DIR=$(mktemp -d) && tar -xzf data/cifar10-jpeg.tar.gz -C "$CIFAR_DIR"
    DATA_ARGS=(--data.dataset folder --data.root "$CIFAR_DIR")
fi
start=$(date +%s)
python3 train.py --config configs/cifar10_vit.yaml "${DATA_ARGS[@]}" --trainer.max_epochs "$EPOCHS" \
    --trainer.enable_progress_bar false --runs_dir "${RUNS_DIR:-runs}" 2>&1 | grep -v -i warn | tail -n 20
echo "cifar10_vit.yaml, $EPOCHS epochs: wall $(( $(date +%s) - start )) s (start-up and data decoding included)"

echo "== (c) end to end: train.py vs the bare training step, cifar10_vit.yaml, bf16"
python3 benchmarks/e2e.py --steps 300 --warmup 50 --json "$OUT_DIR/e2e_gpu.json" -- --config configs/cifar10_vit.yaml \
    "${DATA_ARGS[@]}" --trainer.enable_progress_bar false --runs_dir "${RUNS_DIR:-runs}" 2>&1 | grep -v -i warn | tail -n 3
