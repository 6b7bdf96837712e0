//! `plexus bench gemm`: multiply-adds per second of every `gemm_i8` kernel this CPU runs.
//!
//! Each available kernel (`plexus_exec::Kernel::available`) multiplies the same seeded random int8
//! matrices in MiniLM-like shapes: m tokens (12, 64, 256) times the encoder's layers, n outputs by
//! k inputs with (n, k) in {(384, 384), (1536, 384), (384, 1536)} (attention projections, the
//! feed-forward up and down). A shape repeats until it has done at least `MACS_PER_RUN_MIN`
//! multiply-adds, and the best of `--runs` counts; a kernel's figure is all shapes' multiply-adds
//! over the sum of their best times. `gemm_gmacs` is the detected kernel (the one the `gemm_i8`
//! host call runs), `gemm_gmacs_baseline` the scalar one (baseline x86-64 code, what every call ran
//! before kernels were chosen at run time). Every kernel must give the scalar kernel's bits, or
//! the benchmark fails.

use crate::bench_exec::{best, round};
use anyhow::{Result, bail};
use plexus_exec::{Kernel, gemm_i8_with};
use rand::{RngExt as _, SeedableRng as _};
use serde_json::json;

/// Tokens per batch (rows of A).
const TOKENS: [usize; 3] = [12, 64, 256];
/// (outputs, inputs) of the layers (rows of B, columns of A and B).
const LAYERS: [(usize, usize); 3] = [(384, 384), (1536, 384), (384, 1536)];
/// Multiply-adds a timed run does at least, so that small shapes are not timer noise.
const MACS_PER_RUN_MIN: usize = 1 << 26;

struct Shape {
    m: usize,
    n: usize,
    k: usize,
    a: Vec<i8>,
    b: Vec<i8>,
}

/// One kernel's figures: its name, G multiply-adds/s over all shapes and per shape, and its
/// outputs (to compare with the scalar kernel's).
struct Measured {
    kernel: Kernel,
    gmacs: f64,
    per_shape: Vec<f64>,
    outputs: Vec<Vec<i32>>,
}

fn measure(kernel: Kernel, shapes: &[Shape], runs: u32) -> Result<Measured> {
    let (mut macs_total, mut seconds_total) = (0.0, 0.0);
    let mut per_shape = Vec::new();
    let mut outputs = Vec::new();
    for Shape { m, n, k, a, b } in shapes {
        let (m, n, k) = (*m, *n, *k);
        let reps = MACS_PER_RUN_MIN.div_ceil(m * n * k);
        let mut c = vec![0i32; m * n];
        let (ms, ()) = best(runs, || {
            for _ in 0..reps {
                gemm_i8_with(kernel, m, n, k, a, b, &mut c, false)?;
            }
            Ok(())
        })?;
        let macs = (m * n * k * reps) as f64;
        per_shape.push(macs / (ms * 1e6));
        macs_total += macs;
        seconds_total += ms / 1e3;
        outputs.push(c);
    }
    Ok(Measured {
        kernel,
        gmacs: macs_total / seconds_total / 1e9,
        per_shape,
        outputs,
    })
}

/// The seeded shapes, every available kernel's figures over them (scalar first) and the seed;
/// fails if any kernel's bits differ from the scalar kernel's.
fn measure_all(runs: u32) -> Result<(Vec<Shape>, Vec<Measured>, u64)> {
    let seed = 0x6e33_u64;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut shapes = Vec::new();
    for m in TOKENS {
        for (n, k) in LAYERS {
            let a = (0..m * k).map(|_| rng.random()).collect();
            let b = (0..n * k).map(|_| rng.random()).collect();
            shapes.push(Shape { m, n, k, a, b });
        }
    }
    let measured = Kernel::available()
        .into_iter()
        .map(|kernel| measure(kernel, &shapes, runs))
        .collect::<Result<Vec<_>>>()?;
    let scalar = &measured[0];
    for other in &measured[1..] {
        if other.outputs != scalar.outputs {
            bail!(
                "the {} kernel's products differ from the scalar kernel's (seed {seed:#x})",
                other.kernel.name()
            );
        }
    }
    Ok((shapes, measured, seed))
}

/// `gemm_gmacs` (the detected kernel) and `gemm_gmacs_baseline` (scalar), for other benchmarks'
/// reports.
pub(crate) fn headline(runs: u32) -> Result<(f64, f64)> {
    let (_, measured, _) = measure_all(runs)?;
    Ok((dispatched(&measured).gmacs, measured[0].gmacs))
}

/// The figures of the kernel `gemm_i8` dispatches to (the scalar one's if none matches).
fn dispatched(measured: &[Measured]) -> &Measured {
    let detected = Kernel::detected();
    measured
        .iter()
        .find(|figures| figures.kernel == detected)
        .unwrap_or(&measured[0])
}

pub fn bench_gemm(runs: u32, json_mode: bool) -> Result<()> {
    let (shapes, measured, seed) = measure_all(runs)?;
    let scalar = &measured[0];
    let detected = Kernel::detected();
    let dispatched = dispatched(&measured);
    let speedup = dispatched.gmacs / scalar.gmacs;
    let labels: Vec<String> = shapes
        .iter()
        .map(|s| format!("{}x{}x{}", s.m, s.n, s.k))
        .collect();
    let value = json!({
        "runs": runs,
        "seed": seed,
        "detected": detected.name(),
        "gemm_gmacs": round(dispatched.gmacs),
        "gemm_gmacs_baseline": round(scalar.gmacs),
        "speedup": round(speedup),
        "kernels": measured.iter().map(|figures| json!({
            "kernel": figures.kernel.name(),
            "gmacs": round(figures.gmacs),
            "shapes": shapes.iter().zip(&figures.per_shape).map(|(s, gmacs)| json!({
                "m": s.m, "n": s.n, "k": s.k, "gmacs": round(*gmacs),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    let mut text = format!(
        "gemm_i8, G multiply-adds/s, best of {runs} (shapes m x n x k)\n  {:<12}{:>8}",
        "kernel", "all"
    );
    for label in &labels {
        text.push_str(&format!("{label:>16}"));
    }
    for figures in &measured {
        text.push_str(&format!(
            "\n  {:<12}{:>8.2}",
            figures.kernel.name(),
            figures.gmacs
        ));
        for gmacs in &figures.per_shape {
            text.push_str(&format!("{gmacs:>16.2}"));
        }
    }
    text.push_str(&format!(
        "\ndetected {}: {:.2} G/s, {speedup:.2}x the scalar baseline ({:.2} G/s); all kernels gave the same bits",
        detected.name(),
        dispatched.gmacs,
        scalar.gmacs,
    ));
    crate::print(json_mode, value, text);
    Ok(())
}
