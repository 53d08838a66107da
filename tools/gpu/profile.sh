#!/usr/bin/env bash
# Where the time and memory go (docs/PERFORMANCE.md): NF4 kernel layouts with host enqueue time, and QLoRA
# training steps split into phases (CUDA events) plus one decoder layer's parts, under libtorch's caching
# allocator and under the stream-ordered one (which reports allocated bytes). Run on the GPU machine:
#   OUT=/some/dir bash tools/gpu/profile.sh
set -u
R="bash .device/remote-run"
J="$OUT/profile.jsonl"
log() { echo "== $*" | tee -a "$OUT/profile.log"; }
B="bench --shape llama3.1-8b --method qlora --device cuda --steps 4 --warmup 2 --json $J"
log "fused kernels vs tensor ops"; $R bench --check-kernels --device cuda --json "$J" 2>&1 | tail -4
log "nf4 dequant"; $R bench --nf4-dequant --shape llama3.1-8b --device cuda --steps 5 --json "$J" 2>&1 | grep -c '"bitwise_equal":true'; grep -c '"bitwise_equal":false' "$J"; grep '"path"' "$J" | cut -c1-260
log "qlora r16 qkvo 2x2048, caching allocator (expandable segments)"; $R $B --batch 2 --seq 2048 --profile 2>&1 | tail -1
log "same, stream-ordered allocator"; PYTORCH_CUDA_ALLOC_CONF=backend:cudaMallocAsync $R $B --batch 2 --seq 2048 --profile 2>&1 | tail -1
log "same, stream-ordered, fused kernels off"; FINQLORA_FUSED=0 PYTORCH_CUDA_ALLOC_CONF=backend:cudaMallocAsync $R $B --batch 2 --seq 2048 2>&1 | tail -1
log "qlora r32 all 4x512, stream-ordered"; PYTORCH_CUDA_ALLOC_CONF=backend:cudaMallocAsync $R $B --lora-r 32 --lora-alpha 64 --targets all-linear --batch 4 --seq 512 --profile 2>&1 | tail -1
log "done"
log "generate nf4 b1 (fused rope with the kv cache)"; $R bench --shape llama3.1-8b --method qlora --generate --batch 1 --prompt-len 512 --new-tokens 64 --steps 2 --warmup 1 --device cuda --json "$J" 2>&1 | tail -1
