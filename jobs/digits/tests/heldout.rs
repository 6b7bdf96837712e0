//! The committed weights (`jobs/build/digits.weights`, from `cargo xtask train-digits`) classify
//! the held-out rows (`jobs/build/digits-heldout.csv`, never trained on) exactly as reported:
//! 293 of 299 (97.99%), run through the job's own code on an in-memory host.

use std::path::PathBuf;

use plexus_guest::{VecHost, run_native};
use plexus_job_digits::input::parse_labeled_csv_rows;
use plexus_job_digits::{DigitsJob, Pixels, Weights, decode_output, encode_input};

/// Correct held-out labels measured when the committed weights were trained.
const HELDOUT_CORRECT: usize = 293;
/// Held-out rows (every 5th of the 1497).
const HELDOUT_ROWS: usize = 299;

fn build_file(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../build")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

#[test]
fn committed_weights_classify_the_heldout_rows_as_reported() {
    let weights = build_file("digits.weights");
    assert_eq!(Weights::decode(&weights).unwrap().hidden, 64);
    let text = String::from_utf8(build_file("digits-heldout.csv")).unwrap();
    let rows = parse_labeled_csv_rows(&text).unwrap();
    assert_eq!(rows.len(), HELDOUT_ROWS);
    let images: Vec<Pixels> = rows.iter().map(|(p, _)| *p).collect();
    let host = VecHost::new(encode_input(&images).unwrap(), vec![weights]);
    let (bytes, steps) = run_native::<DigitsJob, _>(&host);
    assert_eq!(
        steps,
        HELDOUT_ROWS.div_ceil(plexus_job_digits::STEP_IMAGES) as u64
    );
    let output = decode_output(&bytes).unwrap();
    let correct = output
        .labels
        .iter()
        .zip(&rows)
        .filter(|(got, (_, want))| *got == want)
        .count();
    assert_eq!(correct, HELDOUT_CORRECT);
}
