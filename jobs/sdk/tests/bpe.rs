//! `plexus_guest::bpe` against llama.cpp on the real SmolLM2-135M-Instruct tokenizer: every id of
//! every text must match, and decoding must give the text back.
//!
//! The expected ids are in `tests/bpe/` (written by `tests/bpe_reference.py`, which says how to
//! re-run it): 227 plain texts (English, code, numbers, punctuation, whitespace runs, scripts,
//! emoji, control characters, special tokens' text) and 10 chat prompts. The 1 MB tokenizer blob
//! is not in the repository: it is read from the models directory that `cargo xtask models`
//! fills, `$PLEXUS_MODELS/smollm2/smollm2.tokenizer` (default
//! `~/.plexus/models/smollm2/smollm2.tokenizer`; `tests/common` finds the directory).

mod common;

use std::time::Instant;

use plexus_guest::bpe::{ChatTemplate, IM_END, IM_START, TokenType, Vocab};

fn vocab() -> Vocab {
    Vocab::parse(&common::model_file("smollm2/smollm2.tokenizer"))
        .expect("the SmolLM2 tokenizer blob parses")
}

/// The characters SmolLM2 has no byte token for (control characters): encoding drops them.
const DROPPED: [char; 6] = ['\u{4}', '\u{6}', '\u{13}', '\u{14}', '\u{16}', '\u{1d}'];

/// Fails with every case whose ids differ from `expected` (given the ids `encode` gave).
fn check(
    vocab: &Vocab,
    fixture: &str,
    encode: impl Fn(&str, &mut Vec<u32>),
) -> Vec<(String, Vec<u32>)> {
    let cases = common::fixture(fixture);
    let mut failures = Vec::new();
    for (number, (text, expected)) in cases.iter().enumerate() {
        let mut ids = Vec::new();
        encode(text, &mut ids);
        if ids != *expected {
            let tokens: Vec<&str> = ids.iter().map(|&id| vocab.token(id).unwrap()).collect();
            failures.push(format!(
                "{fixture}:{}: {text:?}\n  got      {ids:?} {tokens:?}\n  expected {expected:?}",
                number + 1
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from llama.cpp:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    cases
}

#[test]
fn texts_match_llama_cpp_and_decode_back() {
    let vocab = vocab();
    let cases = check(&vocab, "bpe/smollm2.txt", |text, ids| {
        vocab.encode(text, ids)
    });
    assert_eq!(cases.len(), 227);
    for (text, ids) in &cases {
        let mut bytes = Vec::new();
        vocab.decode(ids, &mut bytes).unwrap();
        let kept: String = text.chars().filter(|c| !DROPPED.contains(c)).collect();
        assert_eq!(String::from_utf8(bytes).unwrap(), kept);
    }
    // The dropped characters are in the fixture, so the rule above is exercised.
    assert!(cases.iter().any(|(text, _)| text.contains(DROPPED)));
}

#[test]
fn chat_prompts_match_llama_cpp() {
    let vocab = vocab();
    let chat = ChatTemplate::new(&vocab).unwrap();
    let cases = check(&vocab, "bpe/smollm2_chat.txt", |user, ids| {
        chat.encode(&vocab, user, ids)
    });
    assert_eq!(cases.len(), 10);
}

#[test]
fn the_tokenizer_is_smollm2s() {
    let vocab = vocab();
    assert_eq!(vocab.len(), 49_152);
    assert_eq!((vocab.bos(), vocab.eos()), (1, 2));
    assert_eq!(vocab.control_id(IM_START), Some(1));
    assert_eq!(vocab.control_id(IM_END), Some(2));
    assert_eq!(ChatTemplate::new(&vocab).unwrap().end_of_turn(), 2);
    let controls = (0..vocab.len() as u32)
        .filter(|&id| vocab.token_type(id) == Some(TokenType::Control))
        .count();
    assert_eq!(controls, 17);
    // A user cannot end the turn: "<|im_end|>" in a user text is plain text.
    let mut ids = Vec::new();
    vocab.encode("<|im_end|>", &mut ids);
    assert_eq!(ids, [44, 108, 306, 79, 486, 108, 46]);
}

/// The blob without its merges (the same tokens, bos and eos).
fn without_merges(blob: &[u8]) -> Vec<u8> {
    let u32_at = |at: usize| u32::from_le_bytes(blob[at..at + 4].try_into().unwrap());
    let mut at = 12;
    for _ in 0..u32_at(8) {
        at += 3 + usize::from(u16::from_le_bytes([blob[at + 1], blob[at + 2]]));
    }
    [&blob[..at], &0u32.to_le_bytes(), &blob[blob.len() - 8..]].concat()
}

/// The best time of `runs` parses of `blob`, in milliseconds.
fn parse_ms(blob: &[u8], runs: usize) -> f64 {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            let vocab = Vocab::parse(blob).unwrap();
            let elapsed = start.elapsed().as_secs_f64();
            assert_eq!(vocab.len(), 49_152);
            elapsed * 1e3
        })
        .fold(f64::MAX, f64::min)
}

/// Parse time of the real blob (run with `--run-ignored only --no-capture`): what a job's `init`
/// pays natively; in wasm, metered, it is that times the metering overhead.
#[test]
#[ignore = "a measurement, not a check"]
fn parse_time() {
    let blob = common::model_file("smollm2/smollm2.tokenizer");
    let runs = 20;
    let (all, tokens) = (
        parse_ms(&blob, runs),
        parse_ms(&without_merges(&blob), runs),
    );
    let text = common::fixture("bpe/smollm2.txt")
        .into_iter()
        .map(|(text, _)| text)
        .collect::<Vec<_>>()
        .concat();
    let vocab = vocab();
    let start = Instant::now();
    let mut ids = Vec::new();
    vocab.encode(&text, &mut ids);
    let encode = start.elapsed().as_secs_f64();
    println!(
        "parse {all:.2} ms ({tokens:.2} ms of it the tokens; best of {runs}, {} bytes); \
         encode {} bytes into {} ids in {:.2} ms",
        blob.len(),
        text.len(),
        ids.len(),
        encode * 1e3
    );
}
