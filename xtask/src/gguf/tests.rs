use super::*;

/// A GGUF file made by hand: key/values, tensor infos, data aligned to 32.
#[derive(Default)]
pub(crate) struct Builder {
    keys: u64,
    kv: Vec<u8>,
    tensors: u64,
    infos: Vec<u8>,
    data: Vec<u8>,
}

fn put_string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

impl Builder {
    pub(crate) fn key(&mut self, key: &str, id: u32, value: &[u8]) -> &mut Self {
        self.keys += 1;
        put_string(&mut self.kv, key);
        self.kv.extend_from_slice(&id.to_le_bytes());
        self.kv.extend_from_slice(value);
        self
    }

    pub(crate) fn string(&mut self, key: &str, value: &str) -> &mut Self {
        let mut bytes = Vec::new();
        put_string(&mut bytes, value);
        self.key(key, 8, &bytes)
    }

    pub(crate) fn strings(&mut self, key: &str, values: &[&str]) -> &mut Self {
        let mut bytes = 8u32.to_le_bytes().to_vec();
        bytes.extend_from_slice(&(values.len() as u64).to_le_bytes());
        for v in values {
            put_string(&mut bytes, v);
        }
        self.key(key, 9, &bytes)
    }

    pub(crate) fn ints(&mut self, key: &str, values: &[i32]) -> &mut Self {
        let mut bytes = 5u32.to_le_bytes().to_vec();
        bytes.extend_from_slice(&(values.len() as u64).to_le_bytes());
        for v in values {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        self.key(key, 9, &bytes)
    }

    pub(crate) fn tensor(&mut self, name: &str, dims: &[u64], kind: u32, data: &[u8]) -> &mut Self {
        self.tensors += 1;
        put_string(&mut self.infos, name);
        self.infos
            .extend_from_slice(&(dims.len() as u32).to_le_bytes());
        for d in dims {
            self.infos.extend_from_slice(&d.to_le_bytes());
        }
        self.infos.extend_from_slice(&kind.to_le_bytes());
        self.data.resize(self.data.len().next_multiple_of(32), 0);
        self.infos
            .extend_from_slice(&(self.data.len() as u64).to_le_bytes());
        self.data.extend_from_slice(data);
        self
    }

    pub(crate) fn build(&self) -> Vec<u8> {
        let mut out = b"GGUF".to_vec();
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&self.tensors.to_le_bytes());
        out.extend_from_slice(&self.keys.to_le_bytes());
        out.extend_from_slice(&self.kv);
        out.extend_from_slice(&self.infos);
        out.resize(out.len().next_multiple_of(32), 0);
        out.extend_from_slice(&self.data);
        out
    }
}

/// One Q4_1 block: d = f16(0.1), m = f16(-0.7), qs[i] = 7i + 3.
fn q4_1_block() -> Vec<u8> {
    let mut block = vec![0x66, 0x2e, 0x9a, 0xb9];
    block.extend((0..16u8).map(|i| i.wrapping_mul(7).wrapping_add(3)));
    block
}

/// What the `gguf` Python package (0.19.0) `dequantize` gives for [`q4_1_block`], as f32 bits.
const Q4_1_WANT: [u32; 32] = [
    0xbeccf000, 0x3e996000, 0xbf19a800, 0x3dcc0000, 0x3f4ca800, 0xbdcd8000, 0x3f197800, 0xbe99c000,
    0x3ecc9000, 0xbf001000, 0x3e4c6000, 0xbf334000, 0xb9c00000, 0x3f331000, 0xbe4d2000, 0x3effc000,
    0xbf334000, 0xbf334000, 0xbf19a800, 0xbf19a800, 0xbf19a800, 0xbf001000, 0xbf001000, 0xbeccf000,
    0xbeccf000, 0xbe99c000, 0xbe99c000, 0xbe4d2000, 0xbe4d2000, 0xbe4d2000, 0xbdcd8000, 0xbdcd8000,
];

/// One Q8_0 block: d = f16(0.03), qs[i] = 37i + 5 (as i8).
fn q8_0_block() -> Vec<u8> {
    let mut block = vec![0xae, 0x27];
    block.extend((0..32u8).map(|i| i.wrapping_mul(37).wrapping_add(5)));
    block
}

/// The same package's `dequantize` of [`q8_0_block`].
const Q8_0_WANT: [u32; 32] = [
    0x3e199800, 0x3fa14600, 0x4017ac80, 0x405eb600, 0xc045c080, 0xbffd6e00, 0xbf5eb600, 0x3e75c000,
    0x3faccb00, 0x401d6f00, 0x40647880, 0xc03ffe00, 0xbff1e900, 0xbf47ac00, 0x3ea8f400, 0x3fb85000,
    0x40233180, 0x406a3b00, 0xc03a3b80, 0xbfe66400, 0xbf30a200, 0x3ed70800, 0x3fc3d500, 0x4028f400,
    0x406ffd80, 0xc0347900, 0xbfdadf00, 0xbf199800, 0x3f028e00, 0x3fcf5a00, 0x402eb680, 0xc075c000,
];

fn sample() -> Vec<u8> {
    let norm: Vec<u8> = [1.5f32, -2.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let mut q4 = q4_1_block();
    q4.extend(q4_1_block());
    Builder::default()
        .string("general.architecture", "llama")
        .key("llama.block_count", 4, &30u32.to_le_bytes())
        .key("llama.rope.freq_base", 6, &100_000f32.to_le_bytes())
        .key("tokenizer.ggml.add_bos_token", 7, &[0])
        .strings("tokenizer.ggml.merges", &["Ġ t", "i n"])
        .tensor("norm", &[2], 0, &norm)
        .tensor("q4", &[32, 2], 3, &q4)
        .tensor("q8", &[32, 1], 8, &q8_0_block())
        .build()
}

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn metadata_and_tensors_read_back_and_dequantize_as_the_gguf_package_does() {
    let file = sample();
    let gguf = Gguf::parse(&file).unwrap();
    assert_eq!(gguf.string("general.architecture").unwrap(), "llama");
    assert_eq!(gguf.uint("llama.block_count").unwrap(), 30);
    assert_eq!(gguf.float("llama.rope.freq_base").unwrap(), 100_000.0);
    assert_eq!(
        gguf.get("tokenizer.ggml.add_bos_token").unwrap(),
        &Value::Bool(false)
    );
    assert_eq!(
        gguf.array("tokenizer.ggml.merges").unwrap(),
        [Value::String("Ġ t".into()), Value::String("i n".into())]
    );
    assert_eq!(gguf.tensor_f32("norm", &[2]).unwrap(), [1.5, -2.0]);
    let q4 = gguf.tensor_f32("q4", &[32, 2]).unwrap();
    assert_eq!(bits(&q4[..32]), Q4_1_WANT);
    assert_eq!(bits(&q4[32..]), Q4_1_WANT);
    assert_eq!(bits(&gguf.tensor_f32("q8", &[32, 1]).unwrap()), Q8_0_WANT);

    let err = gguf.tensor_f32("q4", &[64, 1]).unwrap_err().to_string();
    assert!(
        err.contains("dimensions [32, 2], expected [64, 1]"),
        "{err}"
    );
    let err = gguf.uint("general.architecture").unwrap_err().to_string();
    assert!(err.contains("not an unsigned integer"), "{err}");
    assert!(gguf.tensor_f32("nope", &[1]).is_err());
}

#[test]
fn every_truncation_of_a_file_is_an_error_not_a_panic() {
    let file = sample();
    for len in 0..file.len() {
        assert!(
            Gguf::parse(&file[..len]).is_err(),
            "a file cut to {len} of {} bytes parsed",
            file.len()
        );
    }
}

fn parse_err(file: &[u8]) -> String {
    match Gguf::parse(file) {
        Ok(_) => panic!("a malformed file parsed"),
        Err(err) => err.to_string(),
    }
}

#[test]
fn malformed_files_are_refused_naming_the_field() {
    let mut bad = sample();
    bad[0] = b'X';
    assert!(parse_err(&bad).contains("not a GGUF file"));
    let mut bad = sample();
    bad[4] = 9;
    assert!(parse_err(&bad).contains("GGUF version 9"));

    // A string that claims more bytes than the file has.
    let huge = Builder::default().string("k", "v").build();
    let mut bad = huge.clone();
    let at = 24 + 8 + 1 + 4; // header, the key's length and byte, the value type
    bad[at..at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(
        parse_err(&bad).contains("the file has"),
        "{}",
        parse_err(&bad)
    );

    // An array that claims more elements than bytes are left: refused before allocating.
    let mut b = Builder::default();
    let mut value = 4u32.to_le_bytes().to_vec();
    value.extend_from_slice(&(1u64 << 40).to_le_bytes());
    b.key("a", 9, &value);
    assert!(parse_err(&b.build()).contains("declares 1099511627776 elements"));

    let err = parse_err(&Builder::default().key("b", 7, &[2]).build());
    assert!(err.contains("bool of value 2"), "{err}");
    let err = parse_err(&Builder::default().key("c", 13, &[]).build());
    assert!(err.contains("unknown value type 13"), "{err}");

    // A tensor whose data runs past the end.
    let mut b = Builder::default();
    b.tensor("t", &[32, 4], 3, &q4_1_block());
    let err = parse_err(&b.build());
    assert!(err.contains("past the end"), "{err}");
    let mut b = Builder::default();
    b.tensor("t", &[32], 2, &[0; 18]);
    let err = parse_err(&b.build());
    assert!(err.contains("type 2, not F32"), "{err}");
    let mut b = Builder::default();
    b.tensor("t", &[16], 3, &[0; 20]);
    let err = parse_err(&b.build());
    assert!(err.contains("do not split into blocks of 32"), "{err}");
    let mut b = Builder::default();
    b.tensor("t", &[u64::MAX, 2], 0, &[]);
    let err = parse_err(&b.build());
    assert!(err.contains("has dimensions"), "{err}");
}
