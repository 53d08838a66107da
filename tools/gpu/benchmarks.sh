#!/usr/bin/env bash
# Speed and memory on the GPU machine, FinQLora and transformers+PEFT side by side in one run.
# Run there from the repo root, with the packed program in .device/ (see docs/PERFORMANCE.md):
#   OUT=/some/dir bash tools/gpu/benchmarks.sh
# With bitsandbytes' source in .bnb/ (git archive of github.com/bitsandbytes-foundation/bitsandbytes, carried along),
# the real QLoRA reference (transformers + PEFT + bitsandbytes) runs too.
set -u
R="bash .device/remote-run"
J="$OUT/bench.jsonl"
log() { echo "== $*" | tee -a "$OUT/bench.log"; }
log "env"; $R env 2>&1 | tee -a "$OUT/bench.log"
log "nf4 dequantization"; $R bench --nf4-dequant --shape llama3.1-8b --device cuda --steps 5 --json "$J" 2>&1 | tail -12
log "qlora r16 qkvo 2x2048"; $R bench --shape llama3.1-8b --method qlora --lora-r 16 --lora-alpha 32 --targets q_proj,k_proj,v_proj,o_proj --batch 2 --seq 2048 --steps 5 --warmup 2 --device cuda --json "$J" 2>&1 | tail -2
log "qlora r32 all 4x512"; $R bench --shape llama3.1-8b --method qlora --lora-r 32 --lora-alpha 64 --targets all-linear --batch 4 --seq 512 --steps 5 --warmup 2 --device cuda --json "$J" 2>&1 | tail -2
log "lora bf16 r16 qkvo 2x2048"; $R bench --shape llama3.1-8b --method lora --lora-r 16 --lora-alpha 32 --batch 2 --seq 2048 --steps 5 --warmup 2 --device cuda --json "$J" 2>&1 | tail -2
log "generate nf4 b1"; $R bench --shape llama3.1-8b --method qlora --generate --batch 1 --prompt-len 512 --new-tokens 64 --steps 3 --warmup 1 --device cuda --json "$J" 2>&1 | tail -1
log "generate nf4 b32"; $R bench --shape llama3.1-8b --method qlora --generate --batch 32 --prompt-len 512 --new-tokens 64 --steps 3 --warmup 1 --device cuda --json "$J" 2>&1 | tail -1
log "python lora r16 eager"; python3 tools/bench/reference_bench.py --method lora --r 16 --alpha 32 --batch 2 --seq 2048 --steps 5 --warmup 2 --json "$J" 2>&1 | tail -1
log "python lora r16 compiled"; python3 tools/bench/reference_bench.py --method lora --r 16 --alpha 32 --batch 2 --seq 2048 --steps 5 --warmup 3 --compile on --json "$J" 2>&1 | tail -1
log "python lora r32 all 4x512 compiled"; python3 tools/bench/reference_bench.py --method lora --r 32 --alpha 64 --targets q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj --batch 4 --seq 512 --steps 5 --warmup 3 --compile on --json "$J" 2>&1 | tail -1
if [ -d .bnb ]; then   # bitsandbytes' source carried along: build it (under a minute) for the real QLoRA reference
  ls .bnb/bitsandbytes/libbitsandbytes_cuda*.so >/dev/null 2>&1 || (cd .bnb && cmake -G Ninja -DCOMPUTE_BACKEND=cuda -DCOMPUTE_CAPABILITY=90 -S . -B /tmp/bnb-build >/dev/null && cmake --build /tmp/bnb-build -j16 >/dev/null)
  export PYTHONPATH=$PWD/.bnb
  for c in off on; do
    log "python qlora (bitsandbytes) r16 2x2048 compile=$c"; python3 tools/bench/reference_bench.py --method qlora --r 16 --alpha 32 --batch 2 --seq 2048 --steps 5 --warmup 3 --compile $c --json "$J" 2>&1 | tail -1
    log "python qlora (bitsandbytes) r32 all 4x512 compile=$c"; python3 tools/bench/reference_bench.py --method qlora --r 32 --alpha 64 --targets q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj --batch 4 --seq 512 --steps 5 --warmup 3 --compile $c --json "$J" 2>&1 | tail -1
  done
fi
log "done"
