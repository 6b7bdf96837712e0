//! The committed job modules are what the sources build to: runs `cargo xtask jobs --check`
//! (its own target directory, `target/jobs`, so it does not wait on the test build's lock).
//! A failure names the stale file; `cargo xtask jobs` rebuilds it.

use std::process::Command;

#[test]
fn committed_job_modules_match_a_fresh_build() {
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["jobs", "--check"])
        .output()
        .expect("run xtask");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "cargo xtask jobs --check failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains("jobs/build/digits.wasm: up to date"),
        "{stdout}"
    );
    assert!(
        stdout.contains("jobs/build/cnn.wasm: up to date"),
        "{stdout}"
    );
}
