#!/usr/bin/env bash
# Correctness and training checks on the GPU machine (see docs/GPU.md). Run there from the repo root:
#   OUT=/some/dir bash tools/gpu/checks.sh
set -u
R="bash .device/remote-run"
FX=tests/fixtures/parity/out
log() { echo "== $*" | tee -a "$OUT/checks.log"; }
python3 - "$FX/expected.json" > /tmp/pairs.jsonl <<'PY'
import json, sys
for s in json.load(open(sys.argv[1]))["scores"]: print(json.dumps({"prompt": s["prompt"], "completion": s["completion"]}))
PY
log "score fp32 on cuda vs transformers"; $R score --model $FX/model --input /tmp/pairs.jsonl --device cuda --output "$OUT/score_cuda.jsonl" && python3 - "$FX/expected.json" "$OUT/score_cuda.jsonl" <<'PY' | tee -a "$OUT/checks.log"
import json, sys
exp = json.load(open(sys.argv[1]))["scores"]; got = [json.loads(l) for l in open(sys.argv[2])]
print("max |logprob diff| cuda fp32 vs transformers:", max(abs(e["logprob"] - g["logprob"]) for e, g in zip(exp, got)))
PY
log "greedy on cuda"; for i in 0 1 2; do P=$(python3 -c "import json;print(json.load(open('$FX/expected.json'))['greedy'][$i]['prompt'])"); $R generate --model $FX/model --prompt "$P" --max-new-tokens 20 --json --device cuda; python3 -c "import json;print('expected', json.load(open('$FX/expected.json'))['greedy'][$i]['new_ids'])"; done 2>&1 | tee -a "$OUT/checks.log"
log "adapter saved here, loaded by PEFT"; mkdir -p /tmp/ours && cat > /tmp/ours.yaml <<YAML
include: $PWD/configs/stage2.yaml
init_adapter: null
output: /tmp/ours/run
model: { path: $PWD/$FX/model, dtype: float32, quantize: none, device: cuda }
lora: { r: 4, alpha: 8, dropout: 0.0, targets: all-linear }
data: { dir: $PWD/samples, tasks: [fpb], max_length: 256, truncation: left }
training: { method: lora, max_steps: 20, batch_size: 4, grad_accum: 1, lr: 1.0e-2, warmup_ratio: null, warmup_steps: 0 }
checkpoint: { every_steps: 0, keep_last: 1 }
logging: { every_steps: 5, eval_every_steps: 0, tensorboard: false }
YAML
$R train --config /tmp/ours.yaml 2>&1 | tail -3
$R score --model $FX/model --adapter /tmp/ours/run/adapter --input /tmp/pairs.jsonl --output "$OUT/ours_finqlora.jsonl"
python3 tests/fixtures/parity/check_our_adapter.py $FX/model /tmp/ours/run/adapter "$OUT/ours_peft.json" > /dev/null && python3 - "$OUT/ours_peft.json" "$OUT/ours_finqlora.jsonl" <<'PY' | tee -a "$OUT/checks.log"
import json, sys
peft = json.load(open(sys.argv[1])); ours = [json.loads(l) for l in open(sys.argv[2])]
print("adapter saved by FinQLora: max |PEFT - FinQLora| logprob:", max(abs(a["logprob"] - b["logprob"]) for a, b in zip(peft, ours)), [round(a["logprob"], 4) for a in peft])
PY
cp /tmp/ours/run/adapter/* "$OUT/" 2>/dev/null
log "8B shape QLoRA stage 1 settings, interrupted and resumed"
S1="--set model.path=random:llama3.1-8b --set model.device=cuda --set model.dtype=bfloat16 --set data.dir=samples --set data.tasks=[finqa,bigdata22,cikm18] --set checkpoint.every_steps=10 --set logging.every_steps=5 --set logging.eval_every_steps=0"
timeout -s INT 150 $R train --config configs/stage1.yaml $S1 --set output=/tmp/s1 --max-steps 60 2>&1 | tail -4
$R train --config configs/stage1.yaml $S1 --set output=/tmp/s1 --max-steps 60 --resume 2>&1 | tail -3
cp /tmp/s1/metrics.jsonl "$OUT/stage1_metrics.jsonl"; cp /tmp/s1/gpu.jsonl "$OUT/stage1_gpu.jsonl" 2>/dev/null
log "8B shape QLoRA stage 2 settings on top of stage 1"
$R train --config configs/stage2.yaml --set model.path=random:llama3.1-8b --set model.device=cuda --set model.dtype=bfloat16 --set data.dir=samples --set output=/tmp/s2 --set init_adapter=/tmp/s1/adapter --set logging.every_steps=10 --set logging.eval_every_steps=0 --set checkpoint.every_steps=50 --max-steps 100 2>&1 | tail -3
cp /tmp/s2/metrics.jsonl "$OUT/stage2_metrics.jsonl"
log "done"
