use super::*;
use plexus_guest::VecHost;

/// A small model of every shape the format has: 3 layers, grouped-query attention (2 query heads
/// per key/value head), vocab 7.
const SMALL: Config = Config {
    vocab: 7,
    hidden: 8,
    layers: 3,
    heads: 2,
    kv_heads: 1,
    head_dim: 4,
    ffn: 6,
    context: 16,
    rope_theta: 10_000.0,
    norm_eps: 1e-5,
};

/// SmolLM2-135M's shape, as its GGUF file declares it.
const SMOLLM2: Config = Config {
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

/// Deterministic bytes: a counter through a multiplicative hash (seed printed by the asserts'
/// names: the data are fixed).
fn fill_i8(seed: u64, out: &mut [i8]) {
    for (i, v) in out.iter_mut().enumerate() {
        *v = ((seed.wrapping_add(i as u64)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as i8;
    }
}

fn fill_f32(seed: u64, out: &mut [f32]) {
    for (i, v) in out.iter_mut().enumerate() {
        let bits = (seed.wrapping_add(i as u64)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
        *v = bits as f32 / (1u64 << 24) as f32 + 0.01;
    }
}

fn model(config: &Config) -> Model {
    let mut layers = Vec::new();
    for index in 0..config.layers {
        let mut layer = Layer::zeroed(config);
        let seed = 1000 * index as u64;
        fill_f32(seed + 1, &mut layer.attn_norm);
        fill_f32(seed + 2, &mut layer.ffn_norm);
        for (k, linear) in [
            &mut layer.qkv,
            &mut layer.out,
            &mut layer.gate_up,
            &mut layer.down,
        ]
        .into_iter()
        .enumerate()
        {
            fill_i8(seed + 10 + k as u64, &mut linear.weight);
            fill_f32(seed + 20 + k as u64, &mut linear.scale);
        }
        layers.push(layer);
    }
    let mut m = Model {
        config: *config,
        output_norm: vec![0.0; config.hidden],
        embed: vec![0; config.vocab * config.hidden],
        embed_scale: vec![0.0; config.vocab],
        layers,
    };
    fill_f32(7, &mut m.output_norm);
    fill_i8(8, &mut m.embed);
    fill_f32(9, &mut m.embed_scale);
    m
}

/// The blobs of [`SMALL`] with 2 layers per layer blob, behind one unrelated blob (so the head
/// is at base 1).
fn host_with(blobs: Vec<Vec<u8>>) -> VecHost {
    let mut all = vec![b"an input blob".to_vec()];
    all.extend(blobs);
    VecHost::new(vec![], all)
}

#[test]
fn a_model_round_trips_layer_by_layer_and_row_by_row() {
    let m = model(&SMALL);
    let blobs = encode(&m, 2);
    assert_eq!(
        blobs.len(),
        3,
        "the head and two layer blobs (2 + 1 layers)"
    );
    let host = host_with(blobs);
    let header = Header::load(&host, 1).unwrap();
    assert_eq!(header.config, SMALL);
    assert_eq!(header.layers_per_blob, 2);
    let places: Vec<_> = header
        .layers
        .iter()
        .map(|at| (at.blob, at.offset))
        .collect();
    let layer = SMALL.layer_bytes();
    assert_eq!(
        places,
        [
            (1, LAYER_HEADER_BYTES),
            (1, LAYER_HEADER_BYTES + layer),
            (2, LAYER_HEADER_BYTES)
        ]
    );
    let mut buffer = Layer::zeroed(&SMALL);
    for (index, want) in m.layers.iter().enumerate() {
        header.read_layer(&host, index, &mut buffer).unwrap();
        assert_eq!(&buffer, want, "layer {index}");
    }
    assert_eq!(header.read_output_norm(&host).unwrap(), m.output_norm);
    let (mut q, mut scale) = (vec![0i8; 3 * SMALL.hidden], vec![0f32; 3]);
    header.embed_rows(&host, 4, &mut q, &mut scale).unwrap();
    assert_eq!(q, m.embed[4 * SMALL.hidden..7 * SMALL.hidden]);
    assert_eq!(scale, m.embed_scale[4..7]);
    assert_eq!(
        header.embed_rows(&host, 5, &mut q, &mut scale),
        Err(WeightsError::Index {
            what: "embedding row",
            index: 7
        })
    );
    assert_eq!(
        header.read_layer(&host, 3, &mut buffer),
        Err(WeightsError::Index {
            what: "layer",
            index: 3
        })
    );
}

#[test]
fn smollm2_spreads_its_30_layers_over_two_blobs_under_64_mib() {
    let blob_max = 64 << 20;
    assert_eq!(SMOLLM2.layer_bytes(), 3_564_288);
    assert_eq!(layers_per_blob(&SMOLLM2, blob_max), Some(15));
    let layout = layout(&SMOLLM2, 15);
    assert_eq!(layout.blobs.len(), 2);
    assert!(layout.blobs.iter().all(|(_, _, len)| *len <= blob_max));
    assert!(layout.head_len <= blob_max);
    // 18 layers fit one blob; the even split puts 15 in each.
    assert_eq!(layers_per_blob(&SMALL, 24 + SMALL.layer_bytes()), Some(1));
    assert_eq!(layers_per_blob(&SMALL, 23 + SMALL.layer_bytes()), None);
    assert_eq!(
        layers_per_blob(&SMALL, 24 + 2 * SMALL.layer_bytes()),
        Some(2)
    );
}

/// The blobs of [`SMALL`] after `corrupt`, loaded at base 1.
fn load_corrupted(corrupt: impl FnOnce(&mut Vec<Vec<u8>>)) -> Result<Header, WeightsError> {
    let mut blobs = encode(&model(&SMALL), 2);
    corrupt(&mut blobs);
    Header::load(&host_with(blobs), 1)
}

#[test]
fn a_corrupt_header_or_table_is_refused_naming_what() {
    assert_eq!(
        load_corrupted(|b| b[0][0] = b'X'),
        Err(WeightsError::BadMagic(1))
    );
    assert_eq!(
        load_corrupted(|b| b[1][0] = b'X'),
        Err(WeightsError::BadMagic(2))
    );
    // hidden = 0.
    assert!(matches!(
        load_corrupted(|b| b[0][12..16].copy_from_slice(&0u32.to_le_bytes())),
        Err(WeightsError::Shape(_))
    ));
    // kv_heads 3 does not divide heads 2.
    assert!(matches!(
        load_corrupted(|b| b[0][24..28].copy_from_slice(&3u32.to_le_bytes())),
        Err(WeightsError::Shape(_))
    ));
    // A huge vocab: its section offsets disagree; with them made to agree, the head blob's
    // length does not, and is refused before anything is allocated.
    let huge = Config {
        vocab: 1 << 20,
        ..SMALL
    };
    assert!(matches!(
        load_corrupted(|b| b[0][8..12].copy_from_slice(&(1u32 << 20).to_le_bytes())),
        Err(WeightsError::Shape(_))
    ));
    assert_eq!(
        load_corrupted(|b| {
            b[0][8..12].copy_from_slice(&(1u32 << 20).to_le_bytes());
            b[0][72..80].copy_from_slice(&layout(&huge, 2).embed_scale.to_le_bytes());
        }),
        Err(WeightsError::Length {
            blob: 1,
            expected: layout(&huge, 2).head_len,
            got: layout(&SMALL, 2).head_len
        })
    );
    // Layer 1's table entry pointing at layer 0.
    let entry = (HEADER_BYTES + TABLE_ENTRY_BYTES) as usize + 8;
    assert_eq!(
        load_corrupted(
            |b| b[0][entry..entry + 8].copy_from_slice(&LAYER_HEADER_BYTES.to_le_bytes())
        ),
        Err(WeightsError::Table(1))
    );
    // The layer blobs in the wrong order.
    assert!(matches!(
        load_corrupted(|b| b.swap(1, 2)),
        Err(WeightsError::Length { blob: 2, .. })
    ));
    assert_eq!(
        load_corrupted(|b| b.truncate(2)),
        Err(WeightsError::MissingBlob(3))
    );
    assert!(matches!(
        load_corrupted(|b| b[2].push(0)),
        Err(WeightsError::Length { blob: 3, .. })
    ));
    assert!(matches!(
        load_corrupted(|b| b[0].truncate(40)),
        Err(WeightsError::Length { blob: 1, .. })
    ));
}

#[test]
fn a_non_finite_float_is_refused_with_its_offset() {
    let mut blobs = encode(&model(&SMALL), 2);
    // The first attention norm weight of layer 2 (layer blob 2's first layer).
    let at = LAYER_HEADER_BYTES as usize;
    blobs[2][at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    let host = host_with(blobs);
    let header = Header::load(&host, 1).unwrap();
    let mut buffer = Layer::zeroed(&SMALL);
    header.read_layer(&host, 1, &mut buffer).unwrap();
    assert_eq!(
        header.read_layer(&host, 2, &mut buffer),
        Err(WeightsError::NonFinite {
            field: "attention norm",
            blob: 3,
            offset: LAYER_HEADER_BYTES
        })
    );
}

#[test]
fn the_encoding_is_deterministic_and_the_header_fields_sit_where_the_doc_says() {
    let m = model(&SMALL);
    let blobs = encode(&m, 2);
    assert_eq!(blobs, encode(&m, 2));
    let head = &blobs[0];
    assert_eq!(&head[..8], b"PLXSML01");
    let word = |at: usize| u32::from_le_bytes(head[at..at + 4].try_into().unwrap());
    assert_eq!(
        (0..8).map(|i| word(8 + 4 * i) as usize).collect::<Vec<_>>(),
        [7, 8, 3, 2, 1, 4, 6, 16]
    );
    assert_eq!(f32::from_bits(word(40)), 10_000.0);
    assert_eq!(f32::from_bits(word(44)), 1e-5);
    assert_eq!((word(48), word(52)), (2, 2));
    assert_eq!(&blobs[2][..8], b"PLXSMLL1");
    let layer_word = |at: usize| u32::from_le_bytes(blobs[2][at..at + 4].try_into().unwrap());
    assert_eq!([layer_word(8), layer_word(12), layer_word(16)], [2, 2, 1]);
}
