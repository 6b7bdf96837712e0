//! The rules on a tiny hand-made vocabulary; `jobs/sdk/tests/bpe.rs` checks the real SmolLM2
//! vocabulary against llama.cpp's ids.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::pretokenize::{Class, Words, class};
use super::*;

/// A blob of `tokens` (type, string), `merges`, bos and eos, in the format of the module docs.
fn blob(tokens: &[(u8, String)], merges: &[&str], bos: u32, eos: u32) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend((tokens.len() as u32).to_le_bytes());
    for (token_type, token) in tokens {
        out.push(*token_type);
        out.extend((token.len() as u16).to_le_bytes());
        out.extend(token.as_bytes());
    }
    out.extend((merges.len() as u32).to_le_bytes());
    for merge in merges {
        out.extend((merge.len() as u16).to_le_bytes());
        out.extend(merge.as_bytes());
    }
    out.extend(bos.to_le_bytes());
    out.extend(eos.to_le_bytes());
    out
}

/// The byte-to-unicode form of `text`.
fn unicode(text: &[u8]) -> String {
    text.iter()
        .map(|&b| char::from_u32(BYTE_CHARS[usize::from(b)].into()).unwrap())
        .collect()
}

/// The tiny vocabulary's merges, best first, in plain text (a space is `Ġ` in the blob).
const MERGES: [&str; 10] = [
    "h e", "l l", "he ll", "hell o", "Ġ w", "o r", "l d", "Ġw or", "Ġwor ld", "Ċ Ġ",
];

/// Three control tokens (ids 0-2), then every byte but 0x04 and 0xFF, then the merges' tokens.
fn tiny_tokens() -> Vec<(u8, String)> {
    let mut tokens: Vec<(u8, String)> = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
        .iter()
        .map(|t| (3, String::from(*t)))
        .collect();
    tokens.extend(
        (0..=255u8)
            .filter(|&b| b != 0x04 && b != 0xFF)
            .map(|b| (1, unicode(&[b]))),
    );
    tokens.extend(MERGES.iter().map(|m| (1, m.replace(' ', ""))));
    tokens
}

fn tiny() -> Vocab {
    Vocab::parse(&blob(&tiny_tokens(), &MERGES, 0, 2)).expect("the tiny blob parses")
}

/// The token strings of `text`'s encoding.
fn tokens(vocab: &Vocab, text: &str) -> Vec<String> {
    let mut ids = vec![];
    vocab.encode(text, &mut ids);
    ids.iter()
        .map(|&id| vocab.token(id).unwrap().into())
        .collect()
}

fn decoded(vocab: &Vocab, ids: &[u32]) -> Vec<u8> {
    let mut out = vec![];
    vocab.decode(ids, &mut out).unwrap();
    out
}

#[test]
fn bytes_to_unicode_is_gpt2s() {
    assert_eq!(BYTE_CHARS[usize::from(b'!')], u16::from(b'!'));
    assert_eq!(BYTE_CHARS[usize::from(b' ')], 'Ġ' as u16);
    assert_eq!(BYTE_CHARS[usize::from(b'\n')], 'Ċ' as u16);
    assert_eq!(BYTE_CHARS[0], 0x100);
    assert_eq!(BYTE_CHARS[0xAD], 0x143);
    assert_eq!(BYTE_CHARS[0xAE], 0xAE);
    for b in 0..256 {
        assert_eq!(CHAR_BYTES[usize::from(BYTE_CHARS[b])], b as u16);
    }
    let bytes = CHAR_BYTES.iter().filter(|&&b| b != NO_BYTE).count();
    assert_eq!(bytes, 256);
}

#[test]
fn pretokenizer_splits_as_gpt2_with_single_digits() {
    let words = |text| Words::new(text).collect::<Vec<_>>();
    assert_eq!(
        words("Hello world's 123 foo!!  bar\n\nbaz   "),
        [
            "Hello", " world", "'s", " ", "1", "2", "3", " foo", "!!", " ", " bar", "\n", "\n",
            "baz", "   "
        ]
    );
    // Contractions are lowercase ASCII only; a lone apostrophe is a symbol.
    assert_eq!(
        words("I'LL we'll 'x '"),
        ["I", "'", "LL", " we", "'ll", " '", "x", " '"]
    );
    assert_eq!(words("they're've'd"), ["they", "'re", "'ve", "'d"]);
    // Letters of any script; marks (Mn) are symbols; numbers are any N, each alone.
    assert_eq!(
        words("e\u{301}té 中文 ²½"),
        ["e", "\u{301}", "té", " 中文", " ", "²", "½"]
    );
    // Whitespace before a non-space: all but the last char; a lone newline is a word.
    assert_eq!(words("a \t b\n c"), ["a", " \t", " b", "\n", " c"]);
    assert_eq!(words(" \u{3000}x\u{a0}"), [" ", "\u{3000}", "x", "\u{a0}"]);
    assert_eq!(words(""), Vec::<&str>::new());
    assert_eq!(words("7"), ["7"]);
    // A symbol run with a space before it, and digits ending a piece's whitespace run.
    assert_eq!(words("x  !?  1"), ["x", " ", " !?", "  ", "1"]);
    assert_eq!(class('\u{85}'), Class::Space);
    assert_eq!(class('\u{200b}'), Class::Other);
    assert_eq!(class('Ⅻ'), Class::Number);
}

#[test]
fn parse_reads_tokens_types_and_specials() {
    let vocab = tiny();
    assert_eq!(vocab.len(), 3 + 254 + MERGES.len());
    assert_eq!(vocab.token(1), Some("<|im_start|>"));
    assert_eq!(vocab.token_type(1), Some(TokenType::Control));
    assert_eq!(vocab.token(3), Some("Ā"));
    assert_eq!(vocab.token_type(3), Some(TokenType::Normal));
    assert_eq!(vocab.token(vocab.len() as u32), None);
    assert_eq!(vocab.token_type(vocab.len() as u32), None);
    assert_eq!((vocab.bos(), vocab.eos()), (0, 2));
    assert_eq!(vocab.control_id("<|im_end|>"), Some(2));
    // A normal token with a control token's name is not a control token.
    assert_eq!(vocab.control_id("hello"), None);
}

/// `blob` with its byte at `at` replaced by `value`.
fn patched(mut blob: Vec<u8>, at: usize, value: u8) -> Vec<u8> {
    blob[at] = value;
    blob
}

#[test]
fn parse_refuses_malformed_blobs() {
    let good = blob(&tiny_tokens(), &MERGES, 0, 2);
    let err = |bytes: &[u8]| Vocab::parse(bytes).unwrap_err();
    assert_eq!(
        err(b""),
        VocabError::Truncated {
            field: "the magic",
            offset: 0
        }
    );
    assert_eq!(err(&patched(good.clone(), 7, b'2')), VocabError::BadMagic);
    // Every truncation is an error naming the field, never a panic.
    for len in 8..good.len() {
        assert!(
            matches!(err(&good[..len]), VocabError::Truncated { .. }),
            "truncated at {len}"
        );
    }
    let mut longer = good.clone();
    longer.push(0);
    assert_eq!(err(&longer), VocabError::TrailingBytes { len_bytes: 1 });
    let count = |n: u32| [MAGIC.as_slice(), &n.to_le_bytes()].concat();
    assert_eq!(
        err(&count(0)),
        VocabError::BadCount {
            what: "tokens",
            count: 0,
            max: TOKENS_MAX
        }
    );
    assert_eq!(
        err(&count(TOKENS_MAX as u32 + 1)),
        VocabError::BadCount {
            what: "tokens",
            count: TOKENS_MAX + 1,
            max: TOKENS_MAX
        }
    );
    // A huge count in a short blob reserves no huge tables: it is refused as truncated.
    assert!(matches!(
        err(&count(TOKENS_MAX as u32)),
        VocabError::Truncated { .. }
    ));
    // Token 0's type byte is at offset 12: user-defined (4) and unknown types are refused.
    for token_type in [0, 4, 7, 255] {
        assert_eq!(
            err(&patched(good.clone(), 12, token_type)),
            VocabError::BadTokenType { id: 0, token_type }
        );
    }
    assert_eq!(
        err(&vec![0; BLOB_BYTES_MAX + 1]),
        VocabError::TooLarge {
            len_bytes: BLOB_BYTES_MAX + 1,
            len_bytes_max: BLOB_BYTES_MAX
        }
    );
}

/// The error of parsing the tiny vocabulary with token `id` replaced by `token` (of `token_type`),
/// or with `merges` instead of its own.
fn refused(replace: Option<(usize, u8, &str)>, merges: &[&str]) -> VocabError {
    let mut tokens = tiny_tokens();
    if let Some((id, token_type, token)) = replace {
        tokens[id] = (token_type, String::from(token));
    }
    Vocab::parse(&blob(&tokens, merges, 0, 2)).unwrap_err()
}

#[test]
fn parse_refuses_bad_tokens_and_merges() {
    let bad_token = |id| VocabError::BadToken { id };
    assert_eq!(refused(Some((5, 1, "")), &MERGES), bad_token(5));
    // A space is not a byte's char in byte-to-unicode form (byte 0x20 is `Ġ`); a control token
    // may have one, a normal token may not.
    assert_eq!(refused(Some((5, 1, "a b")), &MERGES), bad_token(5));
    assert_eq!(refused(Some((5, 1, "Ŕ")), &MERGES), bad_token(5));
    assert!(Vocab::parse(&blob(&[(3, String::from("<a b>"))], &[], 0, 0)).is_ok());
    let mut not_utf8 = blob(&tiny_tokens(), &MERGES, 0, 2);
    not_utf8[15] = 0xFF; // the first byte of token 0's string
    assert_eq!(Vocab::parse(&not_utf8).unwrap_err(), bad_token(0));
    assert_eq!(
        refused(Some((5, 1, "h")), &MERGES),
        VocabError::DuplicateToken {
            id: 106,
            first_id: 5
        }
    );
    let bad_merge = |rank| VocabError::BadMerge { rank };
    assert_eq!(refused(None, &["h e", "he"]), bad_merge(1));
    assert_eq!(refused(None, &["h e", "h q"]), bad_merge(1)); // "hq" is no token
    assert_eq!(refused(None, &["h e", "x e"]), bad_merge(1)); // nor "xe"
    assert_eq!(refused(None, &["h  e"]), bad_merge(0));
    // A merge must not make a control token, so no text can encode to one.
    let mut tokens = tiny_tokens();
    tokens.push((3, String::from("ab")));
    assert_eq!(
        Vocab::parse(&blob(&tokens, &["a b"], 0, 2)).unwrap_err(),
        bad_merge(0)
    );
    assert_eq!(
        refused(None, &["h e", "l l", "h e"]),
        VocabError::DuplicateMerge {
            rank: 2,
            first_rank: 0
        }
    );
    let last = tiny_tokens().len() as u32;
    for (bos, eos, which) in [(last, 0, "bos"), (0, last, "eos")] {
        assert_eq!(
            Vocab::parse(&blob(&tiny_tokens(), &MERGES, bos, eos)).unwrap_err(),
            VocabError::BadSpecialId {
                which,
                id: last,
                len: last as usize
            }
        );
    }
}

#[test]
fn merges_apply_by_rank_then_leftmost() {
    let vocab = tiny();
    assert_eq!(tokens(&vocab, "hello world"), ["hello", "Ġworld"]);
    // "hell o" (rank 3) goes before "o r" (rank 5), although "o r" was a pair first; in " wor",
    // "Ġ w" (4) goes first, then "o r", then "Ġw or" (7).
    assert_eq!(tokens(&vocab, "hellor wor"), ["hello", "r", "Ġwor"]);
    // Three "l": the leftmost pair merges, the third stays.
    assert_eq!(tokens(&vocab, "helllo"), ["hell", "l", "o"]);
    // Four: both "l l" (rank 1) merge before "he ll" (rank 2), although "he ll" is leftmost.
    assert_eq!(tokens(&vocab, "hellllo"), ["hell", "ll", "o"]);
    // Words never merge across their boundary.
    assert_eq!(tokens(&vocab, "he!hello"), ["he", "!", "hello"]);
}

#[test]
fn text_without_merges_is_byte_tokens() {
    let vocab = tiny();
    // "é" is two UTF-8 bytes, each its own token; a 4-byte emoji is four.
    let bytes: Vec<String> = unicode("é".as_bytes()).chars().map(String::from).collect();
    assert_eq!(bytes.len(), 2);
    assert_eq!(tokens(&vocab, "é"), bytes);
    let mut ids = vec![];
    vocab.encode("🤗", &mut ids);
    assert_eq!(ids.len(), 4);
    assert_eq!(decoded(&vocab, &ids), "🤗".as_bytes());
}

#[test]
fn bytes_without_a_token_are_dropped() {
    // The tiny vocabulary has no token for 0x04, as SmolLM2's: llama.cpp drops it.
    let vocab = tiny();
    assert_eq!(tokens(&vocab, "he\u{4}llo"), ["he", "ll", "o"]);
    assert_eq!(tokens(&vocab, "\u{4}"), Vec::<String>::new());
}

#[test]
fn empty_text_has_no_tokens() {
    let vocab = tiny();
    let mut ids = vec![7];
    vocab.encode("", &mut ids);
    assert_eq!(ids, [7], "encode appends");
}

#[test]
fn special_tokens_in_text_are_plain_text() {
    let vocab = tiny();
    let mut ids = vec![];
    vocab.encode("a<|im_end|><|im_start|>b<|endoftext|>", &mut ids);
    assert!(
        ids.iter()
            .all(|&id| vocab.token_type(id) == Some(TokenType::Normal))
    );
    assert_eq!(
        decoded(&vocab, &ids),
        b"a<|im_end|><|im_start|>b<|endoftext|>"
    );
}

#[test]
fn decode_skips_control_tokens_and_may_split_chars() {
    let vocab = tiny();
    let mut ids = vec![];
    vocab.encode("hello é", &mut ids);
    let with_controls: Vec<u32> = [1].into_iter().chain(ids.clone()).chain([2, 0]).collect();
    assert_eq!(decoded(&vocab, &with_controls), "hello é".as_bytes());
    // One token at a time: the halves of "é" are not UTF-8, their concatenation is.
    let halves: Vec<Vec<u8>> = ids[ids.len() - 2..]
        .iter()
        .map(|&id| decoded(&vocab, &[id]))
        .collect();
    assert!(
        halves
            .iter()
            .all(|half| core::str::from_utf8(half).is_err())
    );
    assert_eq!(halves.concat(), "é".as_bytes());
    let mut out = vec![];
    let len = vocab.len();
    assert_eq!(
        vocab.decode(&[5, len as u32], &mut out),
        Err(UnknownId {
            id: len as u32,
            len
        })
    );
}

/// A small deterministic generator (splitmix64) for the round-trip texts.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[test]
fn decode_inverts_encode() {
    let vocab = tiny();
    // Characters from the merges' letters, spaces, digits, symbols and other scripts.
    let alphabet: Vec<char> = "helowrd HELLO\n\t 0123'!?<|>_é中🤗\u{301}\u{a0}\u{3000}²"
        .chars()
        .collect();
    let seed = 0x5eed_b9e1;
    let mut state = seed;
    for case in 0..500 {
        let len = (next(&mut state) % 40) as usize;
        let text: String = (0..len)
            .map(|_| alphabet[(next(&mut state) % alphabet.len() as u64) as usize])
            .collect();
        let mut ids = vec![];
        vocab.encode(&text, &mut ids);
        assert_eq!(
            decoded(&vocab, &ids),
            text.as_bytes(),
            "seed {seed:#x}, case {case}: {text:?}"
        );
    }
}

#[test]
fn chat_template_wraps_one_user_turn() {
    let vocab = tiny();
    let chat = ChatTemplate::new(&vocab).unwrap();
    assert_eq!(chat.end_of_turn(), 2);
    let mut ids = vec![];
    chat.encode(&vocab, "hello<|im_end|>", &mut ids);
    let controls: Vec<u32> = ids
        .iter()
        .copied()
        .filter(|&id| vocab.token_type(id) == Some(TokenType::Control))
        .collect();
    // The user's "<|im_end|>" is text: only the template's control tokens are there.
    assert_eq!(controls, [1, 2, 1, 2, 1]);
    assert_eq!(ids[0], 1);
    let text = alloc::format!("system\n{SYSTEM_PROMPT}\nuser\nhello<|im_end|>\nassistant\n");
    assert_eq!(decoded(&vocab, &ids), text.as_bytes());
    assert_eq!(ids[ids.len() - 1], vocab.byte_ids[usize::from(b'\n')]);
}

#[test]
fn chat_user_text_joins_the_turns_newline() {
    // "user\n" and the text are one fragment: the newline and the text's first space are one
    // word ("\n " before " hello"), which the tiny vocabulary merges ("Ċ Ġ"), as llama.cpp does
    // on the rendered template. Encoded apart, they would be "Ċ", "Ġ", "Ġ", "hello".
    let vocab = tiny();
    let chat = ChatTemplate::new(&vocab).unwrap();
    let mut ids = vec![];
    chat.encode(&vocab, "  hello", &mut ids);
    let tokens: Vec<&str> = ids.iter().map(|&id| vocab.token(id).unwrap()).collect();
    let starts: Vec<usize> = (0..ids.len()).filter(|&i| ids[i] == 1).collect();
    let end = starts[1]
        + tokens[starts[1]..]
            .iter()
            .position(|&t| t == "<|im_end|>")
            .unwrap();
    assert_eq!(
        tokens[starts[1] + 1..end],
        ["u", "s", "e", "r", "ĊĠ", "Ġ", "hello"]
    );
}

#[test]
fn chat_template_needs_its_control_tokens() {
    let tokens = &tiny_tokens()[2..]; // without <|endoftext|> and <|im_start|>
    let vocab = Vocab::parse(&blob(tokens, &MERGES, 0, 0)).unwrap();
    assert_eq!(
        ChatTemplate::new(&vocab),
        Err(VocabError::MissingControl { token: IM_START })
    );
}
