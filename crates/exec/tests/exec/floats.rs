//! The exact float host calls (`quantize_rows`, `dequantize_rows`, `layer_norm`, `gelu`,
//! `attention`, `kv_attention`) through wasmtime: the bits `plexus_guest::nn::kernels` gives
//! natively, on random
//! shapes and data with edge values (zeros, huge and tiny values, subnormals, infinities, NaNs
//! with random payloads), every NaN canonical, and fuel charged by the documented formula.

use crate::{engine, job, run_job};
use plexus_exec::{Job, Outcome};
use plexus_guest::nn::kernels;
use rand::{RngExt as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// Where `init` copies the input.
const BASE: usize = 64;
/// Bytes of the input's header: the op, thirteen i32 arguments, `eps`, the output's offset and
/// length (relative to the data).
const HEADER: usize = 68;

/// Input: `op` (0 quantize_rows, 1 dequantize_rows, 2 layer_norm, 3 gelu, 4 attention, 5
/// kv_attention), thirteen i32 arguments (pointers already absolute), `eps` (f32), the output's
/// address and length, then the data. Output: that range of memory after the call.
const FLOATS: &str = r#"(module
  (import "plexus" "input_len" (func $input_len (result i32)))
  (import "plexus" "input_read" (func $input_read (param i32 i32 i32) (result i32)))
  (import "plexus" "quantize_rows" (func $quantize (param i32 i32 i32 i32 i32)))
  (import "plexus" "dequantize_rows" (func $dequantize (param i32 i32 i32 i32 i32 i32 i32 i32)))
  (import "plexus" "layer_norm" (func $layer_norm (param i32 i32 i32 i32 i32 f32)))
  (import "plexus" "gelu" (func $gelu (param i32 i32)))
  (import "plexus" "attention" (func $attention (param i32 i32 i32 i32 i32)))
  (import "plexus" "kv_attention"
    (func $kv_attention (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)))
  (memory (export "memory") 4 4)
  (global (export "plexus_output") i32 (i32.const 0))
  (func $arg (param $i i32) (result i32)
    (i32.load (i32.add (i32.const 68) (i32.mul (local.get $i) (i32.const 4)))))
  (func (export "init")
    (drop (call $input_read (i32.const 0) (i32.const 64) (call $input_len))))
  (func (export "step") (result i32)
    (local $op i32)
    (local.set $op (i32.load (i32.const 64)))
    (if (i32.eq (local.get $op) (i32.const 0)) (then
      (call $quantize (call $arg (i32.const 0)) (call $arg (i32.const 1)) (call $arg (i32.const 2))
        (call $arg (i32.const 3)) (call $arg (i32.const 4)))))
    (if (i32.eq (local.get $op) (i32.const 1)) (then
      (call $dequantize (call $arg (i32.const 0)) (call $arg (i32.const 1)) (call $arg (i32.const 2))
        (call $arg (i32.const 3)) (call $arg (i32.const 4)) (call $arg (i32.const 5))
        (call $arg (i32.const 6)) (call $arg (i32.const 7)))))
    (if (i32.eq (local.get $op) (i32.const 2)) (then
      (call $layer_norm (call $arg (i32.const 0)) (call $arg (i32.const 1)) (call $arg (i32.const 2))
        (call $arg (i32.const 3)) (call $arg (i32.const 4)) (f32.load (i32.const 120)))))
    (if (i32.eq (local.get $op) (i32.const 3)) (then
      (call $gelu (call $arg (i32.const 0)) (call $arg (i32.const 1)))))
    (if (i32.eq (local.get $op) (i32.const 4)) (then
      (call $attention (call $arg (i32.const 0)) (call $arg (i32.const 1)) (call $arg (i32.const 2))
        (call $arg (i32.const 3)) (call $arg (i32.const 4)))))
    (if (i32.eq (local.get $op) (i32.const 5)) (then
      (call $kv_attention (call $arg (i32.const 0)) (call $arg (i32.const 1))
        (call $arg (i32.const 2)) (call $arg (i32.const 3)) (call $arg (i32.const 4))
        (call $arg (i32.const 5)) (call $arg (i32.const 6)) (call $arg (i32.const 7))
        (call $arg (i32.const 8)) (call $arg (i32.const 9)) (call $arg (i32.const 10))
        (call $arg (i32.const 11)) (call $arg (i32.const 12)))))
    (i32.store (i32.const 0) (i32.load (i32.const 124)))
    (i32.store (i32.const 4) (i32.load (i32.const 128)))
    (i32.const 0)))"#;

/// A float that is often an edge value: zero, huge, tiny, subnormal, infinite or NaN with a
/// random payload; otherwise uniform in [-4, 4).
fn float(rng: &mut ChaCha8Rng) -> f32 {
    match rng.random_range(0..40u32) {
        0 => 0.0,
        1 => -0.0,
        2 => 3.0e38,
        3 => -1.0e-38,
        4 => f32::from_bits(rng.random_range(1..0x0080_0000u32)), // subnormal
        5 => f32::INFINITY,
        6 => f32::NEG_INFINITY,
        7 => f32::from_bits(
            0x7f80_0001 | rng.random_range(0..0x0040_0000u32) | (rng.random::<u32>() & 0x8040_0000),
        ),
        _ => rng.random_range(-4.0..4.0f32),
    }
}

/// `count` floats, a row of zeros among them now and then.
fn floats(rng: &mut ChaCha8Rng, count: usize, edges: bool) -> Vec<f32> {
    (0..count)
        .map(|_| {
            if edges {
                float(rng)
            } else {
                rng.random_range(-4.0..4.0f32)
            }
        })
        .collect()
}

fn bytes_f32(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A call: the op, its arguments with the data's offsets (relative to the data) for pointers,
/// `eps`, the data, the output's range in the data, and its fuel formula.
struct Call {
    op: i32,
    args: Vec<Arg>,
    eps: f32,
    data: Vec<u8>,
    out: std::ops::Range<usize>,
    formula: u64,
}

enum Arg {
    Size(usize),
    Ptr(usize),
}

impl Call {
    fn input(&self) -> Vec<u8> {
        let data_at = BASE + HEADER;
        let mut input = self.op.to_le_bytes().to_vec();
        for i in 0..13 {
            let value = match self.args.get(i) {
                Some(Arg::Size(s)) => *s,
                Some(Arg::Ptr(p)) => data_at + p,
                None => 0,
            };
            input.extend_from_slice(&(value as i32).to_le_bytes());
        }
        input.extend_from_slice(&self.eps.to_le_bytes());
        input.extend_from_slice(&((data_at + self.out.start) as i32).to_le_bytes());
        input.extend_from_slice(&(self.out.len() as i32).to_le_bytes());
        assert_eq!(input.len(), HEADER);
        input.extend_from_slice(&self.data);
        input
    }
}

/// Appends `bytes` to `data`; returns where they start.
fn put(data: &mut Vec<u8>, bytes: &[u8]) -> usize {
    let at = data.len();
    data.extend_from_slice(bytes);
    at
}

/// A random call of `op` and the output the kernel gives natively.
fn random_call(rng: &mut ChaCha8Rng, op: i32) -> (Call, Vec<u8>) {
    let edges = rng.random_bool(0.7);
    let (rows, cols) = (rng.random_range(0..9usize), rng.random_range(0..70usize));
    // Data off its 4-byte alignment half the time: the host works on copies then, not in place.
    let mut data = vec![
        0u8;
        if rng.random_bool(0.5) {
            0
        } else {
            rng.random_range(1..4)
        }
    ];
    let (args, out, formula, expected) = match op {
        0 => {
            let mut x = floats(rng, rows * cols, edges);
            if rows > 1 {
                x[..cols].fill(0.0); // an all-zero row
            }
            let x_at = put(&mut data, &bytes_f32(&x));
            let q_at = put(&mut data, &vec![0u8; rows * cols]);
            let s_at = put(&mut data, &vec![0u8; rows * 4]);
            let (mut q, mut scale) = (vec![0i8; rows * cols], vec![0f32; rows]);
            kernels::quantize_rows(&x, rows, cols, &mut q, &mut scale);
            let mut expected: Vec<u8> = q.iter().map(|v| *v as u8).collect();
            expected.extend(bytes_f32(&scale));
            let args = vec![
                Arg::Size(rows),
                Arg::Size(cols),
                Arg::Ptr(x_at),
                Arg::Ptr(q_at),
                Arg::Ptr(s_at),
            ];
            (args, q_at..data.len(), rows * cols / 2 + rows, expected)
        }
        1 => {
            let acc: Vec<i32> = (0..rows * cols).map(|_| rng.random()).collect();
            let (rs, cs, bias) = (
                floats(rng, rows, edges),
                floats(rng, cols, edges),
                floats(rng, cols, edges),
            );
            let mut y = floats(rng, rows * cols, edges);
            let accumulate = rng.random_bool(0.5);
            let acc_at = put(
                &mut data,
                &acc.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>(),
            );
            let rs_at = put(&mut data, &bytes_f32(&rs));
            let cs_at = put(&mut data, &bytes_f32(&cs));
            let b_at = put(&mut data, &bytes_f32(&bias));
            let y_at = put(&mut data, &bytes_f32(&y));
            kernels::dequantize_rows(&acc, rows, cols, &rs, &cs, &bias, &mut y, accumulate);
            let args = vec![
                Arg::Size(rows),
                Arg::Size(cols),
                Arg::Ptr(acc_at),
                Arg::Ptr(rs_at),
                Arg::Ptr(cs_at),
                Arg::Ptr(b_at),
                Arg::Ptr(y_at),
                Arg::Size(usize::from(accumulate)),
            ];
            (
                args,
                y_at..data.len(),
                rows * cols / 2 + rows,
                bytes_f32(&y),
            )
        }
        2 => {
            let mut x = floats(rng, rows * cols, edges);
            let (gamma, beta) = (floats(rng, cols, edges), floats(rng, cols, edges));
            let x_at = put(&mut data, &bytes_f32(&x));
            let g_at = put(&mut data, &bytes_f32(&gamma));
            let b_at = put(&mut data, &bytes_f32(&beta));
            kernels::layer_norm(&mut x, rows, cols, &gamma, &beta, 1e-12);
            let args = vec![
                Arg::Size(rows),
                Arg::Size(cols),
                Arg::Ptr(x_at),
                Arg::Ptr(g_at),
                Arg::Ptr(b_at),
            ];
            (
                args,
                x_at..x_at + rows * cols * 4,
                rows * cols + rows,
                bytes_f32(&x),
            )
        }
        3 => {
            let mut x = floats(rng, rows * cols, edges);
            let x_at = put(&mut data, &bytes_f32(&x));
            kernels::gelu(&mut x);
            (
                vec![Arg::Ptr(x_at), Arg::Size(x.len())],
                x_at..data.len(),
                x.len() * 4,
                bytes_f32(&x),
            )
        }
        5 => kv_call(rng, &mut data, rows, edges),
        _ => {
            let heads = rng.random_range(1..5usize);
            let hidden = heads * rng.random_range(0..9usize);
            let tokens = rows;
            let qkv = floats(rng, tokens * 3 * hidden, edges);
            let q_at = put(&mut data, &bytes_f32(&qkv));
            let o_at = put(&mut data, &vec![0u8; tokens * hidden * 4]);
            let mut out = vec![0f32; tokens * hidden];
            kernels::attention(&qkv, tokens, hidden, heads, &mut out);
            let args = vec![
                Arg::Size(tokens),
                Arg::Size(hidden),
                Arg::Size(heads),
                Arg::Ptr(q_at),
                Arg::Ptr(o_at),
            ];
            let formula = tokens * tokens * (hidden / 2 + 4 * heads) + tokens * hidden;
            (args, o_at..data.len(), formula, bytes_f32(&out))
        }
    };
    let call = Call {
        op,
        args,
        eps: 1e-12,
        data,
        out,
        formula: formula as u64,
    };
    (call, expected)
}

/// A random `kv_attention` call over `rows` rows (pointers relative to `data`): a random cache
/// (grouped-query: several query heads per key/value head; positions packed or with room between
/// them), each row at a random slot and position (two rows may share one); the output is the
/// cache, its scales and the context.
fn kv_call(
    rng: &mut ChaCha8Rng,
    data: &mut Vec<u8>,
    rows: usize,
    edges: bool,
) -> (Vec<Arg>, std::ops::Range<usize>, usize, Vec<u8>) {
    let kv_heads = rng.random_range(1..3usize);
    let residual = rng.random_bool(0.5);
    let f = if residual { 2 } else { 1 };
    let shape = kernels::KvShape {
        heads: kv_heads * rng.random_range(1..4usize),
        kv_heads,
        head_dim: rng.random_range(0..12usize),
        slots: rng.random_range(1..4usize),
        context: rng.random_range(1..7usize),
        stride: 2 * f * kv_heads + rng.random_range(0..3usize),
        residual,
    };
    let width = shape.row_width().unwrap();
    let vectors = shape.cache_vectors().unwrap();
    let qkv = floats(rng, rows * width, edges);
    let at: Vec<u32> = (0..rows)
        .flat_map(|_| {
            [
                rng.random_range(0..shape.slots) as u32,
                rng.random_range(0..shape.context) as u32,
            ]
        })
        .collect();
    let mut cache: Vec<i8> = (0..vectors * shape.head_dim)
        .map(|_| rng.random_range(-127..=127))
        .collect();
    let mut scales = floats(rng, vectors, edges);
    let qkv_at = put(data, &bytes_f32(&qkv));
    let at_at = put(
        data,
        &at.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>(),
    );
    let cache_at = put(data, &cache.iter().map(|v| *v as u8).collect::<Vec<_>>());
    let scales_at = put(data, &bytes_f32(&scales));
    let out_at = put(data, &vec![0u8; rows * shape.heads * shape.head_dim * 4]);
    let mut out = vec![0f32; rows * shape.heads * shape.head_dim];
    kernels::kv_attention(&shape, rows, &qkv, &at, &mut cache, &mut scales, &mut out);
    let mut expected: Vec<u8> = cache.iter().map(|v| *v as u8).collect();
    expected.extend(bytes_f32(&scales));
    expected.extend(bytes_f32(&out));
    let pairs: usize = at.chunks(2).map(|c| c[1] as usize + 1).sum();
    let (heads, d) = (shape.heads, shape.head_dim);
    let formula = rows * ((heads + f * kv_heads) * d + 2) + pairs * heads * (f * d / 2 + 4);
    let args = vec![
        Arg::Size(rows),
        Arg::Size(heads),
        Arg::Size(kv_heads),
        Arg::Size(d),
        Arg::Size(shape.slots),
        Arg::Size(shape.context),
        Arg::Size(shape.stride),
        Arg::Size(usize::from(residual)),
        Arg::Ptr(qkv_at),
        Arg::Ptr(at_at),
        Arg::Ptr(cache_at),
        Arg::Ptr(scales_at),
        Arg::Ptr(out_at),
    ];
    (args, cache_at..data.len(), formula, expected)
}

#[test]
fn float_host_calls_give_the_kernels_bits_and_charge_their_formulas() {
    let seed = 0x5eed_0f32_u64;
    println!("float host calls seed {seed}");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let engine = engine();
    let module = job(&engine, FLOATS, b"", 100_000_000, 100_000_000);
    for op in 0..6 {
        let mut base = Vec::new();
        for round in 0..25 {
            let (call, expected) = random_call(&mut rng, op);
            let input = call.input();
            let job = Job {
                input: Arc::from(input.clone()),
                ..module.clone()
            };
            let (execution, _) = run_job(&engine, &job);
            let Outcome::Completed { output } = &execution.outcome else {
                panic!("seed {seed} op {op} round {round}: {:?}", execution.outcome);
            };
            assert_eq!(output, &expected, "seed {seed} op {op} round {round}: bits");
            // kv_attention's output starts with the int8 cache.
            if (1..=4).contains(&op) {
                for b in output.chunks_exact(4) {
                    let v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                    assert!(
                        !v.is_nan() || v.to_bits() == kernels::CANONICAL_NAN_BITS,
                        "seed {seed} op {op} round {round}: NaN {:#x}",
                        v.to_bits()
                    );
                }
            }
            base.push(execution.total_fuel - call.formula - input.len() as u64 / 8);
        }
        // The guest code is the same for every call of one op, so fuel minus the formula is too.
        assert!(
            base.windows(2).all(|p| p[0] == p[1]),
            "seed {seed} op {op}: {base:?}"
        );
    }
}

#[test]
fn overlapping_ranges_compute_on_copies_of_the_inputs() {
    let seed = 0x5eed_1f32_u64;
    println!("overlap seed {seed}");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let engine = engine();
    let module = job(&engine, FLOATS, b"", 100_000_000, 100_000_000);
    let (rows, cols) = (3, 17);
    // `y` is `acc`'s own bytes: every input is read before any output is written.
    let acc: Vec<i32> = (0..rows * cols)
        .map(|_| rng.random_range(-5000..5000))
        .collect();
    let (rs, cs) = (floats(&mut rng, rows, false), floats(&mut rng, cols, false));
    let mut data = Vec::new();
    let acc_at = put(
        &mut data,
        &acc.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>(),
    );
    let rs_at = put(&mut data, &bytes_f32(&rs));
    let cs_at = put(&mut data, &bytes_f32(&cs));
    let mut y: Vec<f32> = acc.iter().map(|v| f32::from_bits(*v as u32)).collect();
    kernels::dequantize_rows(&acc, rows, cols, &rs, &cs, &[], &mut y, true);
    let args = vec![
        Arg::Size(rows),
        Arg::Size(cols),
        Arg::Ptr(acc_at),
        Arg::Ptr(rs_at),
        Arg::Ptr(cs_at),
        Arg::Ptr(0),
        Arg::Ptr(acc_at),
        Arg::Size(1),
    ];
    let call = Call {
        op: 1,
        args,
        eps: 0.0,
        data,
        out: acc_at..acc_at + rows * cols * 4,
        formula: 0,
    };
    let job = Job {
        input: Arc::from(call.input()),
        ..module
    };
    let (execution, _) = run_job(&engine, &job);
    assert_eq!(
        execution.outcome,
        Outcome::Completed {
            output: bytes_f32(&y)
        },
        "seed {seed}"
    );
}
