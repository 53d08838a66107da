#!/usr/bin/env python3
"""Reads a FinQLora run's TensorBoard event files with TensorBoard's own EventAccumulator and checks every
scalar tag and step against the run's metrics.jsonl (docs/TRAINING.md, "TensorBoard").

usage: python3 tools/gpu/tensorboard_check.py RUN_STAGE_DIR [RUN_STAGE_DIR ...] [--json OUT.json]
  RUN_STAGE_DIR holds metrics.jsonl and tensorboard/ (e.g. runs/quickstart/stage1).
Expected, from src/FinQLora/Monitoring/TensorBoardSink.cs: for each train line, STAGE/train/{loss, lr, grad_norm,
tokens_per_s} (and gpu_mem_gib when not null) at its step; for each val line, STAGE/val/loss. Values are written
as float32, so they must equal the JSON value rounded to float32. Non-finite values are not written.
Exit code 0 when every tag, step and value matches and TensorBoard shows no tag that metrics.jsonl lacks; 1 otherwise.
"""
import json, math, struct, sys
from collections import defaultdict

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator, SCALARS

TRAIN_FIELDS = {"loss": "loss", "lr": "lr", "grad_norm": "grad_norm", "tokens_per_s": "tokens_per_s", "gpu_mem_gib": "gpu_mem_gib"}


def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


def expected_from_metrics(path):
    expected = defaultdict(dict)  # tag -> {step: value}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            o = json.loads(line)
            kind, stage, step = o.get("kind"), o.get("stage"), o.get("step")
            if kind == "train":
                for field, name in TRAIN_FIELDS.items():
                    v = o.get(field)
                    if v is not None and math.isfinite(v):
                        expected[f"{stage}/train/{name}"][step] = f32(v)
            elif kind == "val":
                v = o.get("val_loss")
                if v is not None and math.isfinite(v):
                    expected[f"{stage}/val/loss"][step] = f32(v)
    return expected


def check(run_dir):
    acc = EventAccumulator(f"{run_dir}/tensorboard", size_guidance={SCALARS: 0})  # 0: keep every event
    acc.Reload()
    seen = {tag: {e.step: e.value for e in acc.Scalars(tag)} for tag in acc.Tags()["scalars"]}
    expected = expected_from_metrics(f"{run_dir}/metrics.jsonl")
    problems = []
    for tag in sorted(set(expected) | set(seen)):
        if tag not in seen:
            problems.append(f"{tag}: in metrics.jsonl, not in TensorBoard")
            continue
        if tag not in expected:
            problems.append(f"{tag}: in TensorBoard, not in metrics.jsonl")
            continue
        if sorted(seen[tag]) != sorted(expected[tag]):
            problems.append(f"{tag}: steps differ: TensorBoard {sorted(seen[tag])}, metrics.jsonl {sorted(expected[tag])}")
            continue
        for step, value in expected[tag].items():
            if seen[tag][step] != value:
                problems.append(f"{tag} step {step}: TensorBoard {seen[tag][step]!r}, metrics.jsonl {value!r} (as float32)")
    return {
        "run": run_dir,
        "tags": len(seen),
        "points": sum(len(v) for v in seen.values()),
        "steps_per_tag": {t: sorted(v) for t, v in sorted(seen.items())},
        "problems": problems,
        "ok": not problems,
    }


def main(argv):
    out = None
    if "--json" in argv:
        i = argv.index("--json")
        out = argv[i + 1]
        argv = argv[:i] + argv[i + 2:]
    if not argv:
        print(__doc__)
        return 2
    reports = [check(d) for d in argv]
    for r in reports:
        print(f"{r['run']}: {r['tags']} tags, {r['points']} points: {'OK' if r['ok'] else 'MISMATCH'}")
        for p in r["problems"]:
            print("  " + p)
    if out:
        with open(out, "w", encoding="utf-8") as f:
            json.dump(reports, f, indent=1)
    import tensorboard
    print("tensorboard", tensorboard.__version__)
    return 0 if all(r["ok"] for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
