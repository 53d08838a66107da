"""Makes the bundled samples (samples/) from the real data extracts in ../shared/data.

    python3 tools/make_samples.py ../shared/data samples

Rows are copied byte for byte (as parsed JSON, re-serialized) from:
  flare/<task>-test-sample.jsonl         -> samples/<task>/test.jsonl       (FLARE format; first N rows)
  pixiu-instructions/<task>-valid.jsonl.xz -> samples/<task>/train.jsonl  (PIXIU format; every k-th row)
For fpb, fiqasa and cikm18, which have no FLARE-format rows here, the test file is taken from PIXIU rows that
are not in the train file.
"""
import json
import lzma
import os
import sys

src, out = sys.argv[1], sys.argv[2]
TRAIN, TEST = 40, 20
flare = {"ner": "ner", "finqa": "finqa", "headlines": "headlines", "bigdata22": "bigdata22"}
pixiu = {"fpb": "fpb-valid", "fiqasa": "fiqasa-train", "headlines": "headlines-valid", "ner": "ner-valid",
         "finqa": "finqa-valid", "cikm18": "cikm18-valid", "bigdata22": "bigdata22-valid"}


def write(path, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


for task, name in pixiu.items():
    rows = [json.loads(l) for l in lzma.open(os.path.join(src, "pixiu-instructions", name + ".jsonl.xz"), "rt", encoding="utf-8")]
    step = max(1, len(rows) // (TRAIN + TEST))
    picked = rows[::step][: TRAIN + TEST]
    write(os.path.join(out, task, "train.jsonl"), picked[:TRAIN])
    if task not in flare:
        write(os.path.join(out, task, "test.jsonl"), picked[TRAIN:TRAIN + TEST])
for task, name in flare.items():
    rows = [json.loads(l) for l in open(os.path.join(src, "flare", name + "-test-sample.jsonl"), encoding="utf-8")]
    write(os.path.join(out, task, "test.jsonl"), rows[:TEST])
print("samples written to", out)
