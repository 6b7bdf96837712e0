//! `plexus_guest::wordpiece` against HuggingFace `tokenizers` on the real all-MiniLM-L6-v2
//! vocabulary: every id of every text must match.
//!
//! The expected ids are in `tests/wordpiece/` (written by `tests/wordpiece_reference.py`, which says
//! how to re-run it): the 500 texts of `minilm-dev.jsonl.gz` and hand-made hard cases. The 231 KB
//! vocabulary is not in the repository: it is read from the models directory that
//! `cargo xtask models` fills, `$PLEXUS_MODELS/minilm/vocab.txt` (default
//! `~/.plexus/models/minilm/vocab.txt`; `tests/common` finds the directory).

mod common;

use plexus_guest::wordpiece::Vocab;

/// The models' truncation length (sentence-transformers' max_seq_length), as in the fixtures.
const TOKENS_MAX: usize = 256;

fn vocab() -> Vocab {
    Vocab::parse(&common::model_file("minilm/vocab.txt")).expect("the MiniLM vocab.txt parses")
}

/// Encodes every case of `fixture` (lines of a JSON string, a tab, the expected ids) and fails
/// with the cases that differ; returns how many cases there were.
fn check(fixture: &str) -> usize {
    let vocab = vocab();
    let mut ids = Vec::new();
    let mut failures = Vec::new();
    let cases = common::fixture(&format!("wordpiece/{fixture}"));
    for (number, (text, expected)) in cases.iter().enumerate() {
        vocab.encode(text, TOKENS_MAX, &mut ids);
        if ids != *expected {
            let tokens: Vec<&str> = ids.iter().map(|&id| vocab.token(id).unwrap()).collect();
            failures.push(format!(
                "{fixture}:{}: {text:?}\n  got      {ids:?} {tokens:?}\n  expected {expected:?}",
                number + 1
            ));
        }
    }
    let cases = cases.len();
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
