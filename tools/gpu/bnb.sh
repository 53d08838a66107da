#!/usr/bin/env bash
# FinQLora's NF4 against real bitsandbytes, on the GPU machine (which has nvcc and cmake but no
# bitsandbytes package). From the repo root there, with .device (../shared/device/pack) and .bnb
# (bitsandbytes' source: git archive of github.com/bitsandbytes-foundation/bitsandbytes) carried:
#   OUT=/some/dir bash tools/gpu/bnb.sh
# Builds bitsandbytes for sm_90 (skipped when .bnb/bitsandbytes/libbitsandbytes_cuda*.so exists), then
#  1. check_bnb.py --write --save: golden.json vs bitsandbytes, bnb_golden.json, the tiny model saved by bnb
#  2. check_our_adapter.py --nf4: PEFT log-probs on the bnb-quantized tiny base (ours/nf4_expected.json)
#  3. `finqlora quantize` vs bitsandbytes' save_pretrained, byte by byte, tiny fp32 and a 2-layer bf16
#     model with 4096 x 14336 MLP weights; transformers + bitsandbytes load ours (compare_checkpoints.py)
#  4. `finqlora score` on the checkpoint bitsandbytes saved vs PEFT's base log-probs
set -u
R="bash .device/remote-run"
FX=tests/fixtures/parity/out
log() { echo "== $* ($(date +%T))" | tee -a "$OUT/bnb.log"; }
if ! ls .bnb/bitsandbytes/libbitsandbytes_cuda*.so >/dev/null 2>&1; then
  log "building bitsandbytes"
  (cd .bnb && cmake -G Ninja -DCOMPUTE_BACKEND=cuda -DCOMPUTE_CAPABILITY=90 -DCMAKE_BUILD_TYPE=Release -S . -B /tmp/bnb-build > /tmp/bnb-cmake.log 2>&1 \
     && cmake --build /tmp/bnb-build -j16 > /tmp/bnb-build.log 2>&1) || { tail -30 /tmp/bnb-cmake.log /tmp/bnb-build.log; exit 1; }
fi
cp .bnb/bitsandbytes/libbitsandbytes_cuda*.so "$OUT/" 2>/dev/null
export PYTHONPATH=$PWD/.bnb
python3 -c "import bitsandbytes, torch; print('bitsandbytes', bitsandbytes.__version__)" 2>&1 | tail -2 | tee -a "$OUT/bnb.log"

log "1. golden vectors vs bitsandbytes"
python3 tests/fixtures/nf4/check_bnb.py --write --save /tmp/bnbsave 2>&1 | grep -v Warning | tee -a "$OUT/bnb.log"
cp tests/fixtures/nf4/bnb_golden.json "$OUT/"
cp $FX/model/tokenizer.json $FX/model/tokenizer_config.json $FX/model/chat_template.jinja /tmp/bnbsave/model-bnb-nf4/ 2>/dev/null
(cd /tmp/bnbsave && tar -cJf "$OUT/model-bnb-nf4.tar.xz" model-bnb-nf4 bnb-nf4-logprobs.json)

log "2. PEFT on the bnb-quantized tiny base"
python3 tests/fixtures/parity/check_our_adapter.py --nf4 2>&1 | tail -2 | tee -a "$OUT/bnb.log"
cp tests/fixtures/parity/ours/nf4_expected.json "$OUT/"

log "3a. finqlora quantize vs bitsandbytes, tiny fp32 model"
$R quantize --model $FX/model --output /tmp/ours-tiny --device cuda 2>&1 | tail -2
python3 tests/fixtures/nf4/compare_checkpoints.py $FX/model /tmp/bnb-tiny /tmp/ours-tiny "$OUT/compare_tiny.json" 2>&1 | grep -v -i warn | tee -a "$OUT/bnb.log"

log "3b. finqlora quantize vs bitsandbytes, 2-layer bf16 model of the 8B's widths"
python3 - <<'PY'
import torch, shutil
from transformers import LlamaConfig, LlamaForCausalLM
torch.manual_seed(1)
cfg = LlamaConfig(vocab_size=1011, hidden_size=4096, intermediate_size=14336, num_hidden_layers=2, num_attention_heads=32,
                  num_key_value_heads=8, max_position_embeddings=256, bos_token_id=1000, eos_token_id=1001, tie_word_embeddings=False)
m = LlamaForCausalLM(cfg).to(torch.bfloat16)
with torch.no_grad():
    for n, p in m.named_parameters():
        if p.dim() == 2: p.normal_(0, 0.02)
m.save_pretrained("/tmp/medium")
for f in ("tokenizer.json", "tokenizer_config.json"): shutil.copy(f"tests/fixtures/parity/out/model/{f}", "/tmp/medium/")
PY
$R quantize --model /tmp/medium --output /tmp/ours-medium --device cuda 2>&1 | tail -2
python3 tests/fixtures/nf4/compare_checkpoints.py /tmp/medium /tmp/bnb-medium /tmp/ours-medium "$OUT/compare_medium.json" 2>&1 | grep -v -i warn | tee -a "$OUT/bnb.log"

log "4. finqlora score on bitsandbytes' checkpoint vs PEFT's base log-probs"
python3 - $FX/expected.json > /tmp/pairs.jsonl <<'PY'
import json, sys
for s in json.load(open(sys.argv[1]))["scores"]: print(json.dumps({"prompt": s["prompt"], "completion": s["completion"]}))
PY
for dev in cuda cpu; do
  $R score --model /tmp/bnbsave/model-bnb-nf4 --input /tmp/pairs.jsonl --device $dev --dtype float32 --output /tmp/score_bnb_$dev.jsonl 2>&1 | tail -1
  $R score --model $FX/model --quantize nf4 --input /tmp/pairs.jsonl --device $dev --dtype float32 --output /tmp/score_q_$dev.jsonl 2>&1 | tail -1
done
python3 - tests/fixtures/parity/ours/nf4_expected.json <<'PY' | tee -a "$OUT/bnb.log"
import json, sys
base = json.load(open(sys.argv[1]))["base"]
for name in ("bnb_cuda", "bnb_cpu", "q_cuda", "q_cpu"):
    try: got = [json.loads(l)["logprob"] for l in open(f"/tmp/score_{name}.jsonl")]
    except OSError: print(name, "missing"); continue
    print(f"finqlora score {name} vs PEFT+bitsandbytes base: max |diff| = {max(abs(a - b) for a, b in zip(got, base)):.3e}")
PY

log "5. fused NF4 kernels (now loaded through KernelModule) vs tensor ops"
$R bench --nf4-dequant --shape llama3.1-8b --device cuda --steps 5 --json /tmp/nf4.json 2>&1 | tail -8 | tee -a "$OUT/bnb.log"
echo "bitwise_equal true: $(grep -o '"bitwise_equal":true' /tmp/nf4.json | wc -l), false: $(grep -o '"bitwise_equal":false' /tmp/nf4.json | wc -l)" | tee -a "$OUT/bnb.log"
log "end"
