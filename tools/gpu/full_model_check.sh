#!/usr/bin/env bash
# Full fine-tuning writes OUTPUT/model/ that transformers' from_pretrained loads with FinQLora's scores (issue 17, part 3).
# On the GPU machine, from the repo root, with the packed program in .device/:  OUT=/some/dir bash tools/gpu/full_model_check.sh
# fp32 tiny fixture model (tests/fixtures/parity/out/model), 3 steps of full fine-tuning on the bundled FPB rows, on the GPU
# and once more with bf16 weights on the CPU; each model folder is scored by `finqlora score` and by transformers.
set -u
R="bash .device/remote-run"
W=$(mktemp -d)
python3 -c "import json;e=json.load(open('tests/fixtures/parity/out/expected.json'));print('\n'.join(json.dumps({'prompt':s['prompt'],'completion':s['completion']}) for s in e['scores']))" > $W/pairs.jsonl
for variant in "cuda float32" "cpu bfloat16"; do
  set -- $variant; dev=$1; dtype=$2; run=$W/run-$dev-$dtype
  cat > $W/full-$dev.yaml <<YAML
stage: full-check
output: $run
model: { path: tests/fixtures/parity/out/model, dtype: $dtype, quantize: none, device: $dev }
data: { dir: samples, tasks: [fpb], max_length: 128, truncation: left }
training: { method: full, max_steps: 3, batch_size: 2, grad_accum: 1, lr: 0.001, warmup_steps: 0, warmup_ratio: null }
checkpoint: { every_steps: 3, keep_last: 1 }
logging: { every_steps: 1, eval_every_steps: 0, tensorboard: false }
YAML
  echo "== $dev $dtype" | tee -a $OUT/full_model_check.log
  $R train --config $W/full-$dev.yaml 2>&1 | tail -3 | tee -a $OUT/full_model_check.log
  ls $run/model | tee -a $OUT/full_model_check.log
  $R score --model $run/model --input $W/pairs.jsonl --output $W/scored-$dev.jsonl --dtype float32 2>&1 | tail -1 | tee -a $OUT/full_model_check.log
  python3 tools/gpu/full_model_check.py $run/model $W/pairs.jsonl $W/scored-$dev.jsonl $OUT/full_model_check-$dev-$dtype.json 2>&1 | grep -v -i warn | tee -a $OUT/full_model_check.log
done
