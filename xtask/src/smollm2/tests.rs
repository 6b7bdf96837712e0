//! The converter on a small hand-built llama GGUF file (f32 tensors): the blobs load and hold
//! the file's tensors quantized by the SDK's rule, the tokenizer file is byte for byte the
//! documented format, and a file that is not what the format holds is refused by name.

use super::*;
use crate::gguf::tests::Builder;

const VOCAB: usize = 5;
const HIDDEN: usize = 8;
const LAYERS: usize = 2;
const HEADS: usize = 2;
const KV_HEADS: usize = 1;
const HEAD_DIM: usize = 4;
const FFN: usize = 6;

/// Deterministic floats for tensor number `seed`.
fn floats(seed: usize, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (((seed * 7919 + i * 104_729) % 2001) as f32 - 1000.0) / 997.0)
        .collect()
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Every tensor of the small model: (name, ggml dims, values).
fn tensors() -> Vec<(String, Vec<u64>, Vec<f32>)> {
    let (h, q, kv, f) = (
        HIDDEN as u64,
        (HEADS * HEAD_DIM) as u64,
        (KV_HEADS * HEAD_DIM) as u64,
        FFN as u64,
    );
    let mut out = vec![
        ("token_embd.weight".to_string(), vec![h, VOCAB as u64]),
        ("output_norm.weight".to_string(), vec![h]),
    ];
    for i in 0..LAYERS {
        for (t, dims) in [
            ("attn_norm", vec![h]),
            ("ffn_norm", vec![h]),
            ("attn_q", vec![h, q]),
            ("attn_k", vec![h, kv]),
            ("attn_v", vec![h, kv]),
            ("attn_output", vec![q, h]),
            ("ffn_gate", vec![h, f]),
            ("ffn_up", vec![h, f]),
            ("ffn_down", vec![f, h]),
        ] {
            out.push((format!("blk.{i}.{t}.weight"), dims));
        }
    }
    out.into_iter()
        .enumerate()
        .map(|(seed, (name, dims))| {
            let n = dims.iter().product::<u64>() as usize;
            (name, dims, floats(seed, n))
        })
        .collect()
}

const TOKENS: [&str; VOCAB] = ["<|im_start|>", "<|im_end|>", "a", "Ġ", "Ġa"];
const MERGES: [&str; 1] = ["Ġ a"];

fn gguf(tensors: &[(String, Vec<u64>, Vec<f32>)], arch: &str) -> Vec<u8> {
    let mut b = Builder::default();
    b.string("general.architecture", arch);
    for (key, value) in [
        ("llama.vocab_size", VOCAB),
        ("llama.embedding_length", HIDDEN),
        ("llama.block_count", LAYERS),
        ("llama.attention.head_count", HEADS),
        ("llama.attention.head_count_kv", KV_HEADS),
        ("llama.rope.dimension_count", HEAD_DIM),
        ("llama.feed_forward_length", FFN),
        ("llama.context_length", 64),
        ("tokenizer.ggml.bos_token_id", 0),
        ("tokenizer.ggml.eos_token_id", 1),
    ] {
        b.key(key, 4, &(value as u32).to_le_bytes());
    }
    b.key("llama.rope.freq_base", 6, &100_000f32.to_le_bytes())
        .key(
            "llama.attention.layer_norm_rms_epsilon",
            6,
            &1e-5f32.to_le_bytes(),
        )
        .string("tokenizer.ggml.model", "gpt2")
        .strings("tokenizer.ggml.tokens", &TOKENS)
        .ints("tokenizer.ggml.token_type", &[3, 3, 1, 1, 1])
        .strings("tokenizer.ggml.merges", &MERGES);
    for (name, dims, values) in tensors {
        b.tensor(name, dims, 0, &f32_bytes(values));
    }
    b.build()
}

fn find<'a>(tensors: &'a [(String, Vec<u64>, Vec<f32>)], name: &str) -> &'a [f32] {
    &tensors.iter().find(|t| t.0 == name).unwrap().2
}

#[test]
fn the_converted_blobs_load_and_hold_the_gguf_tensors_quantized_per_row() {
    let tensors = tensors();
    let outputs = convert(&gguf(&tensors, "llama"), 1 << 20).unwrap();
    let names: Vec<_> = outputs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "smollm2.weights",
            "smollm2.layers-1.weights",
            "smollm2.tokenizer",
            "smollm2.residual.weights",
            "smollm2.residual.layers-1.weights",
        ]
    );
    let host = plexus_guest::VecHost::new(vec![], vec![outputs[0].1.clone(), outputs[1].1.clone()]);
    let header = Header::load(&host, 0).unwrap();
    let c = header.config;
    assert_eq!(
        (
            c.vocab, c.hidden, c.layers, c.heads, c.kv_heads, c.head_dim, c.ffn, c.context
        ),
        (VOCAB, HIDDEN, LAYERS, HEADS, KV_HEADS, HEAD_DIM, FFN, 64)
    );
    assert_eq!((c.rope_theta, c.norm_eps), (100_000.0, 1e-5));
    let mut layer = Layer::zeroed(&c);
    header.read_layer(&host, 1, &mut layer).unwrap();
    assert_eq!(layer.attn_norm, find(&tensors, "blk.1.attn_norm.weight"));
    // q, k, v stacked by rows, then quantized with the SDK's rule.
    let mut qkv = find(&tensors, "blk.1.attn_q.weight").to_vec();
    qkv.extend(find(&tensors, "blk.1.attn_k.weight"));
    qkv.extend(find(&tensors, "blk.1.attn_v.weight"));
    let want = Linear::quantize(&qkv, 16, HIDDEN, vec![0.0; 16]);
    assert_eq!(layer.qkv, want);
    let mut gate_up = find(&tensors, "blk.1.ffn_gate.weight").to_vec();
    gate_up.extend(find(&tensors, "blk.1.ffn_up.weight"));
    assert_eq!(
        layer.gate_up,
        Linear::quantize(&gate_up, 12, HIDDEN, vec![0.0; 12])
    );
    let down = find(&tensors, "blk.1.ffn_down.weight");
    assert_eq!(
        layer.down,
        Linear::quantize(down, HIDDEN, FFN, vec![0.0; HIDDEN])
    );
    let (mut q, mut scale) = (vec![0i8; VOCAB * HIDDEN], vec![0f32; VOCAB]);
    header.embed_rows(&host, 0, &mut q, &mut scale).unwrap();
    let embed = Linear::quantize(find(&tensors, "token_embd.weight"), VOCAB, HIDDEN, vec![]);
    assert_eq!((q, scale), (embed.weight, embed.scale));
    assert_eq!(
        header.read_output_norm(&host).unwrap(),
        find(&tensors, "output_norm.weight")
    );
    // The residual blobs: the same shape, and with them the down matrix is ~127 times closer
    // to the float values than the int8 one alone.
    let residual_host =
        plexus_guest::VecHost::new(vec![], vec![outputs[3].1.clone(), outputs[4].1.clone()]);
    let residual = Header::load(&residual_host, 0).unwrap();
    assert_eq!(residual.config, c);
    let mut rest = Layer::zeroed(&c);
    residual.read_layer(&residual_host, 1, &mut rest).unwrap();
    assert_eq!(rest.attn_norm, layer.attn_norm);
    let error = |with_residual: bool| {
        down.iter()
            .enumerate()
            .map(|(i, w)| {
                let row = i / FFN;
                let mut v = f32::from(layer.down.weight[i]) * layer.down.scale[row];
                if with_residual {
                    v += f32::from(rest.down.weight[i]) * rest.down.scale[row];
                }
                (v - w).abs()
            })
            .fold(0f32, f32::max)
    };
    assert!(error(false) > 0.0);
    assert!(
        error(true) < error(false) / 50.0,
        "{} {}",
        error(true),
        error(false)
    );
    let (mut weight, mut scale) = (vec![0i8; FFN * HIDDEN + 1], vec![0f32; HIDDEN + 1]);
    let shape = residual.read_matrix(&residual_host, 1, 3, &mut weight, &mut scale);
    assert_eq!(shape, Ok((HIDDEN, FFN)));
    assert_eq!(weight[..FFN * HIDDEN], rest.down.weight[..]);
    assert_eq!(scale[..HIDDEN], rest.down.scale[..]);
}

#[test]
fn the_layers_split_over_as_many_blobs_as_the_blob_size_needs() {
    let tensors = tensors();
    let file = gguf(&tensors, "llama");
    let one_layer = config(&Gguf::parse(&file).unwrap()).unwrap().layer_bytes();
    let outputs = convert(&file, 24 + one_layer + 100).unwrap();
    let names: Vec<_> = outputs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "smollm2.weights",
            "smollm2.layers-1.weights",
            "smollm2.layers-2.weights",
            "smollm2.tokenizer",
            "smollm2.residual.weights",
            "smollm2.residual.layers-1.weights",
            "smollm2.residual.layers-2.weights",
        ]
    );
    let err = convert(&file, 23 + one_layer).unwrap_err().to_string();
    assert!(err.contains("one layer does not fit a blob"), "{err}");
}

#[test]
fn the_tokenizer_file_is_the_documented_format_byte_for_byte() {
    let outputs = convert(&gguf(&tensors(), "llama"), 1 << 20).unwrap();
    let mut want = b"PLXBPE01".to_vec();
    want.extend_from_slice(&5u32.to_le_bytes());
    for (token, kind) in TOKENS.iter().zip([3u8, 3, 1, 1, 1]) {
        want.push(kind);
        want.extend_from_slice(&(token.len() as u16).to_le_bytes());
        want.extend_from_slice(token.as_bytes());
    }
    want.extend_from_slice(&1u32.to_le_bytes());
    want.extend_from_slice(&(MERGES[0].len() as u16).to_le_bytes());
    want.extend_from_slice(MERGES[0].as_bytes());
    want.extend_from_slice(&0u32.to_le_bytes());
    want.extend_from_slice(&1u32.to_le_bytes());
    let tokenizer = outputs.iter().find(|(n, _)| n == TOKENIZER_FILE).unwrap();
    assert_eq!(tokenizer.1, want);
}

#[test]
fn a_file_the_format_cannot_hold_is_refused_by_name() {
    let tensors = tensors();
    let err = |tensors: &[(String, Vec<u64>, Vec<f32>)], arch: &str| {
        convert(&gguf(tensors, arch), 1 << 20)
            .unwrap_err()
            .to_string()
    };
    assert!(err(&tensors, "gpt2").contains("general.architecture is \"gpt2\""));
    let missing: Vec<_> = tensors
        .iter()
        .filter(|t| t.0 != "blk.1.attn_v.weight")
        .cloned()
        .collect();
    assert!(err(&missing, "llama").contains("no tensor blk.1.attn_v.weight"));
    let mut extra = tensors.clone();
    extra.push((
        "blk.2.attn_norm.weight".into(),
        vec![HIDDEN as u64],
        vec![1.0; HIDDEN],
    ));
    assert!(err(&extra, "llama").contains("unexpected tensor blk.2.attn_norm.weight"));
    let mut untied = tensors.clone();
    untied.push((
        "output.weight".into(),
        vec![HIDDEN as u64, VOCAB as u64],
        vec![1.0; 40],
    ));
    assert!(err(&untied, "llama").contains("output.weight"));
    let mut misshapen = tensors.clone();
    misshapen[4].1 = vec![4, 8];
    assert!(err(&misshapen, "llama").contains("blk.0.attn_q.weight has dimensions [4, 8]"));
    let mut nan = tensors;
    nan[2].2[0] = f32::NAN;
    assert!(err(&nan, "llama").contains("blk.0.attn_norm.weight holds a NaN"));
}

#[test]
fn the_pinned_files_are_the_ones_the_conversion_of_smollm2_writes() {
    use plexus_exec::builtin::SMOLLM2_FILES;
    let smollm2 = Config {
        vocab: 49_152,
        hidden: 576,
        layers: 30,
        heads: 9,
        kv_heads: 3,
        head_dim: 64,
        ffn: 1_536,
        context: 8_192,
        rope_theta: 100_000.0,
        norm_eps: 1e-5,
    };
    let per_blob =
        weights::layers_per_blob(&smollm2, plexus_types::limits::BLOB_BYTES_MAX).unwrap();
    let layer_blobs = weights::layout(&smollm2, per_blob).blobs.len();
    let mut names = vec![WEIGHTS_FILE.to_owned()];
    names.extend((1..=layer_blobs).map(layer_file));
    names.push(TOKENIZER_FILE.to_owned());
    names.push(RESIDUAL_FILE.to_owned());
    names.extend((1..=layer_blobs).map(residual_layer_file));
    assert_eq!(
        names.len(),
        plexus_job_smollm2::blobs_for(plexus_job_smollm2::Mode::Precise)
    );
    let pinned: Vec<_> = SMOLLM2_FILES
        .iter()
        .map(|f| f.path.strip_prefix("smollm2/").unwrap().to_owned())
        .collect();
    assert_eq!(pinned, names);
}
