//! `cargo xtask jobs [--check]`: builds the job modules and installs or checks `jobs/build/`.
//!
//! The modules are built for `wasm32-unknown-unknown` with the workspace's `job` profile, in
//! their own target directory (`target/jobs`, so the build never waits on the main build's
//! lock), with the checkout path and cargo home remapped (`/plexus`, `/cargo`) so the bytes do
//! not depend on where the repository was cloned. `CARGO_ENCODED_RUSTFLAGS` is set outright, so
//! no `RUSTFLAGS` of the caller leaks into the bytes. Each module's shape (imports only from
//! `plexus`, a memory with a maximum, the `init`/`step`/`plexus_output` exports) is checked
//! before it is installed or compared.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};

const TARGET: &str = "wasm32-unknown-unknown";
const PROFILE: &str = "job";

/// (package, built file name, installed name under `jobs/build/`).
pub const MODULES: [(&str, &str, &str); 4] = [
    ("plexus-job-digits", "plexus_job_digits.wasm", "digits.wasm"),
    ("plexus-job-cnn", "plexus_job_cnn.wasm", "cnn.wasm"),
    ("plexus-job-minilm", "plexus_job_minilm.wasm", "minilm.wasm"),
    (
        "plexus-job-smollm2",
        "plexus_job_smollm2.wasm",
        "smollm2.wasm",
    ),
];

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string())
}

/// Installs the wasm target with rustup if rustc does not have it.
fn ensure_target() -> Result<()> {
    let output = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    match output {
        Ok(out) if out.status.success() => {
            if String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|l| l.trim() == TARGET)
            {
                return Ok(());
            }
            crate::run("rustup", &["target", "add", TARGET])
        }
        // No rustup: let cargo report a missing target itself.
        _ => Ok(()),
    }
}

/// Builds both modules; returns the directory holding the built files.
fn build(root: &Path) -> Result<PathBuf> {
    ensure_target()?;
    let target_dir = root.join("target/jobs");
    let cargo_home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|_| std::env::var("HOME").map(|h| Path::new(&h).join(".cargo")))
        .context("neither CARGO_HOME nor HOME is set")?;
    let rustflags = [
        // Fixed-width SIMD (admitted by the executor; relaxed SIMD is not): LLVM vectorizes the
        // guests' f32 loops, and wasmtime charges one unit of fuel per operator, so a 4-lane
        // operator costs what a scalar one does.
        "-Ctarget-feature=+simd128".to_string(),
        format!("--remap-path-prefix={}=/plexus", root.display()),
        format!("--remap-path-prefix={}=/cargo", cargo_home.display()),
    ]
    .join("\x1f");
    let mut args = vec![
        "build",
        "--locked",
        "--profile",
        PROFILE,
        "--target",
        TARGET,
    ];
    for (package, _, _) in MODULES {
        args.extend(["-p", package]);
    }
    eprintln!("$ CARGO_TARGET_DIR=target/jobs cargo {}", args.join(" "));
    let status = Command::new(cargo())
        .args(&args)
        .current_dir(root)
        .env("CARGO_TARGET_DIR", &target_dir)
        .env("CARGO_ENCODED_RUSTFLAGS", rustflags)
        .env_remove("RUSTFLAGS")
        .status()
        .context("run cargo")?;
    ensure!(
        status.success(),
        "building the job modules failed: {status}"
    );
    Ok(target_dir.join(TARGET).join(PROFILE))
}

/// Checks a built module with the executor's own admission (what every provider runs).
pub fn check_shape(name: &str, bytes: &[u8]) -> Result<()> {
    plexus_exec::admit(bytes)
        .map(|_| ())
        .map_err(|e| anyhow::anyhow!("{name}: fails admission: {e}"))
}

/// Builds the modules, then installs them into `jobs/build/` or, with `check`, fails naming the
/// first installed file that differs from the fresh build.
pub fn jobs(root: &Path, check: bool) -> Result<()> {
    let built = build(root)?;
    let install = root.join("jobs/build");
    std::fs::create_dir_all(&install)?;
    for (_, file, name) in MODULES {
        let fresh = std::fs::read(built.join(file))
            .with_context(|| format!("read {}", built.join(file).display()))?;
        check_shape(name, &fresh)?;
        let path = install.join(name);
        if check {
            let committed = std::fs::read(&path)
                .with_context(|| format!("read jobs/build/{name}: run `cargo xtask jobs`"))?;
            if committed != fresh {
                bail!(
                    "jobs/build/{name} differs from a fresh build ({} bytes committed, {} built): \
                     run `cargo xtask jobs` and commit it",
                    committed.len(),
                    fresh.len()
                );
            }
            println!("jobs/build/{name}: up to date ({} bytes)", fresh.len());
        } else {
            std::fs::write(&path, &fresh)?;
            println!("jobs/build/{name}: {} bytes", fresh.len());
        }
    }
    Ok(())
}
