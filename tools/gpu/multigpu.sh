#!/usr/bin/env bash
# Data-parallel check on a machine with 2+ GPUs (see docs/PERFORMANCE.md): the same global batch on 1 and on 2
# GPUs must give the same loss curve (within bf16 tolerance); throughput with the per-GPU batch fixed.
#   OUT=/some/dir bash tools/gpu/multigpu.sh
set -u
R="bash .device/remote-run"
C="--set model.path=random:llama3.1-8b --set model.device=cuda --set model.dtype=bfloat16 --set data.dir=samples --set init_adapter=null --set logging.every_steps=1 --set logging.eval_every_steps=0 --set checkpoint.every_steps=0 --set lora.dropout=0.0 --set training.warmup_steps=2 --set training.warmup_ratio=null"
echo "== 1 GPU, batch 4 x accum 2"; $R train --config configs/stage2.yaml $C --set output=/tmp/g1 --set training.grad_accum=2 --max-steps ${STEPS:-15} 2>&1 | tail -2
echo "== 2 GPUs, batch 4 x accum 1 per GPU (same global batch)"; $R train --config configs/stage2.yaml $C --set output=/tmp/g2 --set training.grad_accum=1 --max-steps ${STEPS:-15} --gpus 2 2>&1 | tail -4
[ "${SKIP_THROUGHPUT:-0}" = 1 ] || { echo "== 2 GPUs, batch 4 x accum 2 per GPU (throughput)"; $R train --config configs/stage2.yaml $C --set output=/tmp/g2b --set training.grad_accum=2 --max-steps ${STEPS:-15} --gpus 2 2>&1 | tail -2; }
cp /tmp/g1/metrics.jsonl "$OUT/dp_1gpu.jsonl"; cp /tmp/g2/metrics.jsonl "$OUT/dp_2gpu_same_batch.jsonl"; cp /tmp/g2b/metrics.jsonl "$OUT/dp_2gpu_throughput.jsonl" 2>/dev/null
python3 - <<'PY'
import json
def load(p): return [json.loads(l) for l in open(p) if '"train"' in l]
import os
a, b = load("/tmp/g1/metrics.jsonl"), load("/tmp/g2/metrics.jsonl")
c = load("/tmp/g2b/metrics.jsonl") if os.path.exists("/tmp/g2b/metrics.jsonl") else []
print("step  loss_1gpu  loss_2gpu  rel_diff")
for x, y in zip(a, b): print(x["step"], round(x["loss"], 4), round(y["loss"], 4), round(abs(x["loss"] - y["loss"]) / max(1e-9, abs(x["loss"])), 4))
if c:
  tp1 = sorted(x["tokens_per_s"] for x in a[3:])[len(a[3:]) // 2]; tp2 = sorted(x["tokens_per_s"] for x in c[3:])[len(c[3:]) // 2]
  print("median tokens/s 1 GPU (8 seq/step):", round(tp1), " 2 GPUs (16 seq/step):", round(tp2), " scaling efficiency:", round(tp2 / (2 * tp1), 3))
PY
