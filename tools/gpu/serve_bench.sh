#!/usr/bin/env bash
# Serving throughput on the GPU machine: `finqlora serve` on the Llama-3.1-8B shape (random weights, NF4, bf16)
# driven by `finqlora serve-bench` at 1, 8 and 32 concurrent clients (docs/SERVING.md, "Throughput").
# Run there from the repo root, with the packed program in .device/ (../shared/device/pack src/FinQLora.Cli/FinQLora.Cli.csproj):
#   OUT=/some/dir bash tools/gpu/serve_bench.sh
# Writes $OUT/serve_bench.jsonl (one JSON line per concurrency level), $OUT/serve.log (the server's log), $OUT/serve_bench.log.
set -u
R="bash .device/remote-run"
PORT=8011
log() { echo "== $*" | tee -a "$OUT/serve_bench.log"; }
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee -a "$OUT/serve_bench.log"
log "serve random:llama3.1-8b nf4 bf16, max batch 32, context 1024"
$R serve --model random:llama3.1-8b --quantize nf4 --dtype bfloat16 --device cuda --port $PORT \
  --max-batch 32 --max-queue 64 --max-context 1024 --max-tokens 512 > "$OUT/serve.log" 2>&1 &
SERVER=$!
for i in $(seq 1 240); do
  curl -sf "http://127.0.0.1:$PORT/health" > /dev/null && break
  kill -0 $SERVER 2>/dev/null || { log "the server exited:"; tail -20 "$OUT/serve.log" | tee -a "$OUT/serve_bench.log"; exit 1; }
  sleep 1
done
curl -s "http://127.0.0.1:$PORT/health" | tee -a "$OUT/serve_bench.log"; echo
log "serve-bench 1,8,32 clients x 3 requests, prompt ~256 tokens, 128 new tokens each"
$R serve-bench --url "http://127.0.0.1:$PORT" --concurrency 1,8,32 --requests 3 --prompt-tokens 256 --max-tokens 128 \
  --output "$OUT/serve_bench.jsonl" 2>&1 | tee -a "$OUT/serve_bench.log"
nvidia-smi --query-gpu=memory.used --format=csv,noheader | tee -a "$OUT/serve_bench.log"
curl -s "http://127.0.0.1:$PORT/health" | tee -a "$OUT/serve_bench.log"; echo
kill $SERVER; wait $SERVER 2>/dev/null
log "done"
