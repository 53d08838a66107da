#!/usr/bin/env bash
# The curriculum's two stages on the Llama-3.1-8B shape (random weights, QLoRA, bf16) on one GPU, each interrupted
# mid-run and resumed, with allocated memory logged per step (stream-ordered allocator). docs/GPU.md has the results.
# Run on the GPU machine from the repo root:  OUT=/some/dir STAGE=1 bash tools/gpu/training.sh   (then STAGE=2 with S1=<stage-1 run>)
set -u
R="bash .device/remote-run"
export PYTORCH_CUDA_ALLOC_CONF=backend:cudaMallocAsync
STEPS=${STEPS:-200}
COMMON="--set model.path=random:llama3.1-8b --set model.device=cuda --set model.dtype=bfloat16 --set data.dir=samples --set logging.every_steps=10 --set logging.eval_every_steps=0"
log() { echo "== $(date +%T) $*" | tee -a "$OUT/training.log"; }
if [ "${STAGE:-1}" = 1 ]; then
  RUN=${RUN:-/tmp/s1}
  S="--config configs/stage1.yaml $COMMON --set data.tasks=[finqa,acl18,bigdata22,cikm18] --set checkpoint.every_steps=50 --set output=$RUN --max-steps $STEPS"
  log "stage 1: $STEPS steps, SIGINT after ${STOP_AFTER:-180}s"
  timeout -s INT "${STOP_AFTER:-180}" $R train $S 2>&1 | tail -4 | tee -a "$OUT/training.log"
  ls "$RUN/checkpoints" | tee -a "$OUT/training.log"
  log "stage 1: resume"
  $R train $S --resume 2>&1 | tail -3 | tee -a "$OUT/training.log"
  cp "$RUN/metrics.jsonl" "$OUT/stage1_metrics.jsonl"; cp "$RUN/gpu.jsonl" "$OUT/stage1_gpu.jsonl" 2>/dev/null
  tar -C "$RUN" -cf "$OUT/stage1_adapter.tar" adapter
else
  RUN=${RUN:-/tmp/s2}
  if [ ! -d "${S1:-/tmp/s1}/adapter" ]; then   # a fresh machine: a short stage 1 makes the adapter stage 2 starts from
    log "stage 1 (10 steps, for its adapter)"
    $R train --config configs/stage1.yaml $COMMON --set data.tasks=[finqa,acl18,bigdata22,cikm18] --set output=/tmp/s1 --max-steps 10 2>&1 | tail -1
    S1=/tmp/s1
  fi
  S="--config configs/stage2.yaml $COMMON --set init_adapter=${S1:-/tmp/s1}/adapter --set checkpoint.every_steps=50 --set output=$RUN --max-steps $STEPS"
  log "stage 2: $STEPS steps, SIGINT (delivered twice by timeout) after ${STOP_AFTER:-120}s"
  timeout -s INT "${STOP_AFTER:-120}" $R train $S 2>&1 | tail -4 | tee -a "$OUT/training.log"
  ls "$RUN/checkpoints" | tee -a "$OUT/training.log"
  log "stage 2: resume"
  $R train $S --resume 2>&1 | tail -3 | tee -a "$OUT/training.log"
  cp "$RUN/metrics.jsonl" "$OUT/stage2_metrics.jsonl"; cp "$RUN/gpu.jsonl" "$OUT/stage2_gpu.jsonl" 2>/dev/null
fi
log "done"
