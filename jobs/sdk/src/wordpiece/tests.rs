//! The rules on a tiny hand-written vocabulary; `jobs/sdk/tests/wordpiece.rs` checks the real
//! MiniLM vocabulary against HuggingFace's output.

use alloc::vec;
use alloc::vec::Vec;

use super::text::{is_chinese, is_control, is_punctuation, normalized};
use super::*;

const TINY: &str = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nun\n##aff\n##able\nunaff\nhello\nworld\n!\n.\n-\n'\na\n##b\n##bc\ncafe\n##s\n中\n";

fn tiny() -> Vocab {
    Vocab::parse(TINY.as_bytes()).expect("the tiny vocab parses")
}

/// The tokens of `text` encoded with at most `tokens_max` ids.
fn check(text: &str, tokens_max: usize, expected: &[&str]) {
    let vocab = tiny();
    let mut ids = vec![7, 7, 7]; // encode clears what was there
    vocab.encode(text, tokens_max, &mut ids);
    let tokens: Vec<&str> = ids.iter().map(|&id| vocab.token(id).unwrap()).collect();
    assert_eq!(tokens, expected, "text {text:?}, tokens_max {tokens_max}");
}

#[test]
fn parse_gives_ids_by_line_and_back() {
    let vocab = tiny();
    assert_eq!(vocab.len(), 20);
    assert_eq!(vocab.id("[CLS]"), Some(2));
    assert_eq!(vocab.id("##able"), Some(6));
    assert_eq!(vocab.id("able"), None);
    assert_eq!(vocab.token(19), Some("中"));
    assert_eq!(vocab.token(20), None);
    // CRLF lines and a missing final newline are the same vocabulary.
    let crlf = Vocab::parse(TINY.trim_end().replace('\n', "\r\n").as_bytes()).unwrap();
    assert_eq!(crlf.len(), 20);
    assert_eq!(crlf.id("##able"), Some(6));
    assert_eq!(crlf.token(19), Some("中"));
}

#[test]
fn parse_refuses_bad_files() {
    let err = |bytes: &[u8]| Vocab::parse(bytes).unwrap_err();
    assert_eq!(err(b""), VocabError::Empty);
    assert_eq!(err(b"\n"), VocabError::Empty);
    assert_eq!(
        err(b"[CLS]\n\xff\n"),
        VocabError::NotUtf8 { offset_bytes: 6 }
    );
    assert_eq!(err(b"[CLS]\n\n[SEP]\n"), VocabError::EmptyToken { line: 2 });
    assert_eq!(
        err(b"[CLS]\na\n[SEP]\na\n"),
        VocabError::DuplicateToken {
            line: 4,
            first_line: 2
        }
    );
    assert_eq!(
        err(b"[CLS]\n[SEP]\n"),
        VocabError::MissingSpecial { token: "[UNK]" }
    );
    assert_eq!(
        err(&vec![b'a'; VOCAB_BYTES_MAX + 1]),
        VocabError::TooLarge {
            len_bytes: VOCAB_BYTES_MAX + 1,
            len_bytes_max: VOCAB_BYTES_MAX
        }
    );
    let many: String = (0..=VOCAB_TOKENS_MAX)
        .map(|i| alloc::format!("{i}\n"))
        .collect();
    assert_eq!(
        err(many.as_bytes()),
        VocabError::TooManyTokens {
            tokens_max: VOCAB_TOKENS_MAX
        }
    );
}

#[test]
fn greedy_longest_match_first() {
    // "unaff" beats "un"; then "##able".
    check("unaffable", 16, &["[CLS]", "unaff", "##able", "[SEP]"]);
    // "##bc" beats "##b" as the longer continuation.
    check("abc ab", 16, &["[CLS]", "a", "##bc", "a", "##b", "[SEP]"]);
    check("cafes", 16, &["[CLS]", "cafe", "##s", "[SEP]"]);
}

#[test]
fn a_word_with_an_unmatched_part_is_one_unk() {
    // "un" + "##aff" match, "##x" does not: the whole word is [UNK], not a prefix of pieces.
    check("unaffx hello", 16, &["[CLS]", "[UNK]", "hello", "[SEP]"]);
    check("zzz", 16, &["[CLS]", "[UNK]", "[SEP]"]);
}

#[test]
fn words_over_100_chars_are_unk() {
    // A 100-char word that splits into pieces, and the same word one char longer.
    let word = alloc::format!("a{}b", "bc".repeat(49));
    let pieces: Vec<&str> = ["[CLS]", "a"]
        .into_iter()
        .chain(core::iter::repeat_n("##bc", 49))
        .chain(["##b", "[SEP]"])
        .collect();
    check(&word, 64, &pieces);
    check(&(word + "b"), 64, &["[CLS]", "[UNK]", "[SEP]"]);
}

#[test]
fn punctuation_is_a_word_of_its_own() {
    check(
        "hello, world!!",
        16,
        &["[CLS]", "hello", "[UNK]", "world", "!", "!", "[SEP]"],
    );
    check(
        "a-b.'",
        16,
        &["[CLS]", "a", "-", "[UNK]", ".", "'", "[SEP]"],
    );
    assert!(is_punctuation('$') && is_punctuation('`') && is_punctuation('~'));
    assert!(is_punctuation('「') && is_punctuation('¿') && is_punctuation('—'));
    assert!(!is_punctuation('€') && !is_punctuation('a') && !is_punctuation('∑'));
}

#[test]
fn accents_are_stripped_and_case_folded() {
    check(
        "HÉLLO Wörld CAFÉS",
        16,
        &["[CLS]", "hello", "world", "cafe", "##s", "[SEP]"],
    );
    // Already decomposed input: the combining marks go too.
    check("he\u{301}llo", 16, &["[CLS]", "hello", "[SEP]"]);
    let text: alloc::string::String = normalized("Ångström ΣΟΦΟΣ").collect();
    assert_eq!(text, "angstrom σοφοσ");
}

#[test]
fn control_chars_go_and_whitespace_splits() {
    check(
        "\u{0}hel\u{200b}lo\u{fffd}\tworld\u{3000}a\u{7}b",
        16,
        &["[CLS]", "hello", "world", "a", "##b", "[SEP]"],
    );
    assert!(is_control('\u{ad}') && is_control('\u{e000}') && is_control('\u{85}'));
    assert!(!is_control('\t') && !is_control('\u{378}') && !is_control('a'));
}

#[test]
fn cjk_ideographs_are_words() {
    check("中中a", 16, &["[CLS]", "中", "中", "a", "[SEP]"]);
    assert!(is_chinese('\u{4e00}') && is_chinese('\u{2f800}') && !is_chinese('한'));
}

#[test]
fn special_tokens_match_literally() {
    // "b" (only "##b" is a token), "[", "cls", "]": four words of [UNK]; the case matters.
    let unks = ["[UNK]"; 4];
    let expected: Vec<&str> = ["[CLS]", "a", "[SEP]"]
        .into_iter()
        .chain(unks)
        .chain(["[CLS]", "[SEP]"])
        .collect();
    check("a[SEP]b[cls][CLS]", 16, &expected);
    // "[MASK]" is not in the tiny vocabulary, so it is ordinary text.
    check("[MASK]", 16, &["[CLS]", "[UNK]", "[UNK]", "[UNK]", "[SEP]"]);
}

#[test]
fn empty_and_blank_texts_are_cls_sep() {
    check("", 16, &["[CLS]", "[SEP]"]);
    check(" \t\n ", 16, &["[CLS]", "[SEP]"]);
    check("hello", 2, &["[CLS]", "[SEP]"]);
}

#[test]
fn truncation_keeps_the_first_tokens_max_ids() {
    check("hello world a", 4, &["[CLS]", "hello", "world", "[SEP]"]);
    // A word may be cut: "unaff ##able" keeps only its first piece.
    check("hello unaffable", 4, &["[CLS]", "hello", "unaff", "[SEP]"]);
    // An [UNK] word counts as one token even when its pieces would not fit.
    check("hello unaffx a", 4, &["[CLS]", "hello", "[UNK]", "[SEP]"]);
    for tokens_max in 2..12 {
        let vocab = tiny();
        let mut ids = Vec::new();
        vocab.encode(&"hello ".repeat(20), tokens_max, &mut ids);
        assert_eq!(ids.len(), tokens_max);
        assert_eq!(ids.last(), vocab.id("[SEP]").as_ref());
    }
}

#[test]
#[should_panic(expected = "leaves no room")]
fn tokens_max_below_two_is_a_caller_bug() {
    tiny().encode("hello", 1, &mut Vec::new());
}
