//! `plexus_guest::wordpiece` against HuggingFace `tokenizers` on the real all-MiniLM-L6-v2
//! vocabulary: every id of every text must match.
//!
//! The expected ids are in `tests/wordpiece/` (written by `tests/wordpiece_reference.py`, which says
//! how to re-run it): the 500 texts of `minilm-dev.jsonl.gz` and hand-made hard cases. The 231 KB
//! vocabulary is not in the repository: it is read from the models directory that
//! `cargo xtask models` fills, `$PLEXUS_MODELS/minilm/vocab.txt` (default
//! `~/.plexus/models/minilm/vocab.txt`).

use std::path::{Path, PathBuf};

use plexus_guest::wordpiece::Vocab;

/// The models' truncation length (sentence-transformers' max_seq_length), as in the fixtures.
const TOKENS_MAX: usize = 256;

/// The models directory, as `plexus_exec::builtin::models_dir` finds it (this crate cannot
/// depend on plexus-exec, a host crate).
fn models_dir() -> PathBuf {
    match std::env::var_os("PLEXUS_MODELS") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let home = std::env::var_os("HOME").expect("HOME or PLEXUS_MODELS is set");
            Path::new(&home).join(".plexus").join("models")
        }
    }
}

fn vocab() -> Vocab {
    let path = models_dir().join("minilm").join("vocab.txt");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read the MiniLM vocabulary {} ({e}): run `cargo xtask models` first",
            path.display()
        )
    });
    Vocab::parse(&bytes).expect("the MiniLM vocab.txt parses")
}

/// Encodes every case of `fixture` (lines of a JSON string, a tab, the expected ids) and fails
/// with the cases that differ; returns how many cases there were.
fn check(fixture: &str) -> usize {
    let vocab = vocab();
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/wordpiece")
        .join(fixture);
    let lines = std::fs::read_to_string(&path).expect("the fixture is readable");
    let mut ids = Vec::new();
    let mut failures = Vec::new();
    let mut cases = 0;
    for (number, line) in lines.lines().enumerate() {
        let (text, expected) = line.split_once('\t').expect("a tab separates text and ids");
        let text: String = serde_json::from_str(text).expect("the text is a JSON string");
        let expected: Vec<u32> = expected
            .split(' ')
            .map(|id| id.parse().expect("ids are numbers"))
            .collect();
        vocab.encode(&text, TOKENS_MAX, &mut ids);
        if ids != expected {
            let tokens: Vec<&str> = ids.iter().map(|&id| vocab.token(id).unwrap()).collect();
            failures.push(format!(
                "{fixture}:{}: {text:?}\n  got      {ids:?} {tokens:?}\n  expected {expected:?}",
                number + 1
            ));
        }
        cases += 1;
    }
    assert!(
        failures.is_empty(),
        "{} of {cases} cases differ from HuggingFace:\n{}",
        failures.len(),
        failures.join("\n")
    );
    cases
}

#[test]
fn minilm_dev_texts_match_huggingface() {
    assert_eq!(check("minilm_dev.txt"), 500);
}

#[test]
fn hard_cases_match_huggingface() {
    assert!(check("hard_cases.txt") >= 40);
}

#[test]
fn the_vocab_is_minilms() {
    let vocab = vocab();
    assert_eq!(vocab.len(), 30_522);
    for (token, id) in [("[PAD]", 0), ("[UNK]", 100), ("[CLS]", 101), ("[SEP]", 102)] {
        assert_eq!(vocab.id(token), Some(id));
        assert_eq!(vocab.token(id), Some(token));
    }
}

#[test]
fn random_texts_match_huggingface() {
    assert_eq!(check("random.txt"), 400);
}
