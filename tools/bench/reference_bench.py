"""The Python reference for `finqlora bench`: transformers + PEFT on the same GPU, same shape, same settings.

Reference only (the product is C#). --method qlora needs bitsandbytes (the GPU machine here has none
installed: tools/gpu/bnb.sh builds it from source and puts it on PYTHONPATH); --method lora trains bf16 LoRA.

    python3 tools/bench/reference_bench.py --method lora --targets q_proj,k_proj,v_proj,o_proj --r 16 --alpha 32 \
        --batch 2 --seq 2048 --steps 10 --warmup 3 --compile {off,on} --json out.jsonl
    python3 tools/bench/reference_bench.py --method qlora ...   # NF4 + double quantization, bf16 compute
    python3 tools/bench/reference_bench.py --method full --batch 2 --seq 2048 ...
    python3 tools/bench/reference_bench.py --generate --batch 1 --prompt-len 512 --new-tokens 64

Each run appends one JSON object per line (the format `finqlora report --bench` reads).
"""
import argparse
import json
import sys
import statistics
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

SHAPES = {
    "llama3.1-8b": dict(vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                        num_attention_heads=32, num_key_value_heads=8, head_dim=128, rms_norm_eps=1e-5,
                        max_position_embeddings=131072, tie_word_embeddings=False,
                        rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                      "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
                        rope_theta=500000.0),
    "tiny": dict(vocab_size=128256, hidden_size=64, intermediate_size=192, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, head_dim=16, rms_norm_eps=1e-5, max_position_embeddings=131072,
                 tie_word_embeddings=True, rope_theta=500000.0),
}


def build_model(shape):
    cfg = LlamaConfig(**SHAPES[shape], attn_implementation="sdpa")
    with torch.device("cuda"):
        model = LlamaForCausalLM(cfg).to(torch.bfloat16)
    return model, cfg


def gib(x):
    return x / 2**30


def quantize_nf4(model):
    """Every q/k/v/o/gate/up/down projection becomes bitsandbytes' Linear4bit (NF4, double quantization,
    blocks of 64, bf16 compute), as BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
    bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=torch.bfloat16) does at load time. Embeddings,
    norms and lm_head stay bf16 (no prepare_model_for_kbit_training, which would upcast them to fp32)."""
    import bitsandbytes as bnb
    for layer in model.model.layers:
        for parent in (layer.self_attn, layer.mlp):
            for name, mod in list(parent.named_children()):
                if isinstance(mod, torch.nn.Linear):
                    q = bnb.nn.Linear4bit(mod.in_features, mod.out_features, bias=False, compute_dtype=torch.bfloat16,
                                          compress_statistics=True, quant_type="nf4", device="meta")
                    q.weight = bnb.nn.Params4bit(mod.weight.data, requires_grad=False, blocksize=64, compress_statistics=True,
                                                 quant_type="nf4", module=q)
                    q = q.cuda()
                    setattr(parent, name, q)
                    del mod
    torch.cuda.empty_cache()
    return model


def train_bench(a):
    model, cfg = build_model(a.shape)
    dense_params = sum(p.numel() for p in model.parameters())
    if a.method == "qlora":
        model = quantize_nf4(model)
    if a.method in ("lora", "qlora"):
        from peft import LoraConfig, get_peft_model
        model = get_peft_model(model, LoraConfig(r=a.r, lora_alpha=a.alpha, lora_dropout=0.0, task_type="CAUSAL_LM",
                                                 target_modules=a.targets.split(",")))
    if a.grad_ckpt == "on":
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if a.method in ("lora", "qlora"):
            model.enable_input_require_grads()
    model.config.use_cache = False
    if a.compile == "on":
        base = model.base_model.model if a.method in ("lora", "qlora") else model
        for i, layer in enumerate(base.model.layers):
            base.model.layers[i] = torch.compile(layer)
    params = [p for p in model.parameters() if p.requires_grad]
    trainable = sum(p.numel() for p in params)
    total = dense_params + trainable
    opt = torch.optim.AdamW(params, lr=1e-4)
    resident = torch.cuda.memory_allocated()
    g = torch.Generator(device="cuda").manual_seed(0)
    ids = torch.randint(0, cfg.vocab_size, (a.batch, a.seq), device="cuda", generator=g)
    times = []
    torch.cuda.reset_peak_memory_stats()
    for step in range(a.warmup + a.steps):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = model(input_ids=ids, labels=ids)
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        if step >= a.warmup:
            times.append(time.perf_counter() - t0)
    if a.profile:
        profile_step(a, lambda: (model(input_ids=ids, labels=ids).loss.backward(), opt.step(), opt.zero_grad(set_to_none=True)))
    med = statistics.median(times)
    tok_s = a.batch * a.seq / med
    flops_per_token = 6 * total + 12 * cfg.num_hidden_layers * cfg.hidden_size * a.seq  # standard estimate
    if a.method in ("lora", "qlora"):
        flops_per_token = 4 * total + 12 * cfg.num_hidden_layers * cfg.hidden_size * a.seq  # no weight grads
    return dict(side="transformers-" + ("compiled" if a.compile == "on" else "eager"), method=a.method, shape=a.shape,
                batch=a.batch, seq=a.seq, grad_ckpt=a.grad_ckpt, lora_r=a.r if a.method != "full" else None,
                targets=a.targets if a.method != "full" else None, step_time_ms=med * 1000, tokens_per_s=tok_s,
                peak_allocated_gib=gib(torch.cuda.max_memory_allocated()), peak_reserved_gib=gib(torch.cuda.max_memory_reserved()),
                resident_gib=gib(resident), trainable_params=trainable, total_params=total,
                mfu=tok_s * flops_per_token / 989e12, device=torch.cuda.get_device_name(),
                versions=dict(torch=torch.__version__, transformers=__import__("transformers").__version__,
                              bitsandbytes=__import__("bitsandbytes").__version__ if a.method == "qlora" else None))


def profile_step(a, step):
    """One more training step under torch.profiler: GPU time by kernel family, and the top kernels, to stderr and --profile-out."""
    from torch.profiler import profile, ProfilerActivity
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        step()
        torch.cuda.synchronize()
    events = [e for e in prof.key_averages() if e.device_type.name == "CUDA"]
    def family(name):
        n = name.lower()
        if any(k in n for k in ("gemm", "cutlass", "nvjet", "sm90_xmma", "cublas", "matmul")): return "matmul"
        if "flash" in n or "fmha" in n or "attention" in n: return "attention"
        if "triton" in n: return "triton (fused by torch.compile)"
        return "other (elementwise, reductions, copies)"
    total = sum(e.device_time_total for e in events) or 1
    fams = {}
    for e in events:
        fams[family(e.key)] = fams.get(family(e.key), 0) + e.device_time_total
    lines = [f"one step, GPU time {total / 1000:.1f} ms"] + [f"  {k}: {v / 1000:.1f} ms ({100 * v / total:.0f} %)" for k, v in sorted(fams.items(), key=lambda kv: -kv[1])]
    lines += ["top kernels:"] + [f"  {e.device_time_total / 1000:8.2f} ms  x{e.count:<5} {e.key[:110]}" for e in sorted(events, key=lambda e: -e.device_time_total)[:20]]
    text = "\n".join(lines)
    print(text, file=sys.stderr)
    if a.profile_out:
        with open(a.profile_out, "a") as f:
            f.write(f"== {'compiled' if a.compile == 'on' else 'eager'} {a.method} r{a.r} {a.targets} {a.batch}x{a.seq}\n{text}\n")


@torch.no_grad()
def generate_bench(a):
    model, cfg = build_model(a.shape)
    model.eval()
    g = torch.Generator(device="cuda").manual_seed(0)
    ids = torch.randint(0, cfg.vocab_size, (a.batch, a.prompt_len), device="cuda", generator=g)
    kw = dict(max_new_tokens=a.new_tokens, min_new_tokens=a.new_tokens, do_sample=False, pad_token_id=0)
    for _ in range(a.warmup):
        model.generate(ids, **kw)
    times = []
    torch.cuda.reset_peak_memory_stats()
    for _ in range(a.steps):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        model.generate(ids, **kw)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    return dict(side="transformers-eager", method="generate-bf16", shape=a.shape, batch=a.batch, prompt_len=a.prompt_len,
                new_tokens=a.new_tokens, total_time_ms=med * 1000, new_tokens_per_s=a.batch * a.new_tokens / med,
                peak_allocated_gib=gib(torch.cuda.max_memory_allocated()), device=torch.cuda.get_device_name())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--shape", default="llama3.1-8b", choices=SHAPES)
    p.add_argument("--method", default="lora", choices=["lora", "qlora", "full"])
    p.add_argument("--r", type=int, default=16)
    p.add_argument("--alpha", type=int, default=32)
    p.add_argument("--targets", default="q_proj,k_proj,v_proj,o_proj")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--seq", type=int, default=2048)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--grad-ckpt", default="on", choices=["on", "off"])
    p.add_argument("--compile", default="off", choices=["on", "off"])
    p.add_argument("--generate", action="store_true")
    p.add_argument("--prompt-len", type=int, default=512)
    p.add_argument("--new-tokens", type=int, default=64)
    p.add_argument("--json")
    p.add_argument("--profile", action="store_true", help="profile one extra step with torch.profiler (GPU time by kernel family)")
    p.add_argument("--profile-out", help="append the profile summary to this file")
    a = p.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = True
    result = generate_bench(a) if a.generate else train_bench(a)
    line = json.dumps(result)
    print(line, flush=True)
    if a.json:
        with open(a.json, "a") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    main()
