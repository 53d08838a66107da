#!/usr/bin/env bash
# Diagnosis of the 1-GPU vs 2-GPU loss difference on a tiny shape (FINQLORA_DEBUG_DP=1 prints each rank's share).
set -u
R="bash .device/remote-run"
C="--set model.path=random:tiny --set model.device=cuda --set model.dtype=bfloat16 --set data.dir=samples --set data.tasks=[fpb] --set init_adapter=null --set logging.every_steps=1 --set logging.eval_every_steps=0 --set checkpoint.every_steps=0 --set lora.dropout=0.0 --set training.warmup_steps=0 --set training.warmup_ratio=null --set logging.tensorboard=false"
export FINQLORA_DEBUG_DP=1
echo "== 1 GPU accum 2"; $R train --config configs/stage2.yaml $C --set output=/tmp/d1 --set training.grad_accum=2 --max-steps 3 2>&1 | grep -E "^\[dp\]|step [0-9]+/" | head -12
echo "== 1 GPU accum 2, GPU 1"; CUDA_VISIBLE_DEVICES=1 $R train --config configs/stage2.yaml $C --set output=/tmp/d1b --set training.grad_accum=2 --max-steps 3 2>&1 | grep -E "^\[dp\]|step [0-9]+/" | head -12
echo "== 2 GPUs accum 1"; $R train --config configs/stage2.yaml $C --set output=/tmp/d2 --set training.grad_accum=1 --max-steps 3 --gpus 2 2>&1 | grep -E "\[dp\]|step [0-9]+/" | head -20
echo "== 1 GPU fp32 accum 2"; $R train --config configs/stage2.yaml $C --set model.dtype=float32 --set output=/tmp/d3 --set training.grad_accum=2 --max-steps 2 2>&1 | grep -E "^\[dp\]" | head -4
echo "== 2 GPUs fp32 accum 1"; $R train --config configs/stage2.yaml $C --set model.dtype=float32 --set output=/tmp/d4 --set training.grad_accum=1 --max-steps 2 --gpus 2 2>&1 | grep -E "\[dp\]" | head -8
