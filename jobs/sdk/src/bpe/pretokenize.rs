//! The pre-tokenizer of llama.cpp's `smollm` type (`tokenizer.ggml.pre = "smollm"` in the GGUF):
//! two regular expressions applied one after the other, each splitting the pieces the previous
//! one left:
//!
//! 1. `\p{N}`: every number character (general category N: `0`-`9`, `²`, `½`, `Ⅻ`, `٣`, ...) is a
//!    piece of its own, so numbers are tokenized digit by digit;
//! 2. GPT-2's pattern within each piece:
//!    `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
//!
//! (llama.cpp's `llama-vocab.cpp` gives the `smollm` type these two, listing the second without
//! its final `|\s+`; the matcher that runs for it, `unicode_regex_split_custom_gpt2`, has it.
//! HuggingFace's `tokenizer.json` of SmolLM2 says the same: `Digits { individual_digits: true }`
//! then `ByteLevel { use_regex: true }`.) No regex engine: [`first_word`] is the pattern written
//! out as llama.cpp's matcher writes it, and [`Words`] splits at number characters on the way. A piece ends where the text ends or a number character starts, and the
//! pattern never looks past a piece's end: the `(?!\S)` lookahead at the end of a piece succeeds.
//!
//! Character classes: `\s` is Unicode's White_Space property (`char::is_whitespace`, llama.cpp's
//! table too), `\p{L}` and `\p{N}` are the general-category groups from `unicode-properties`
//! (Unicode 16; llama.cpp's tables are generated from an earlier version, so characters assigned
//! since then may be classed differently; unassigned ones are "other" in both). Contractions are
//! case-sensitive ASCII, as in GPT-2.

use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

/// A character's class in the pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Class {
    /// `\p{L}`.
    Letter,
    /// `\p{N}`.
    Number,
    /// `\s`.
    Space,
    /// Anything else: `[^\s\p{L}\p{N}]`.
    Other,
}

/// The class of `c`.
pub(super) fn class(c: char) -> Class {
    if c.is_ascii() {
        return match c {
            'a'..='z' | 'A'..='Z' => Class::Letter,
            '0'..='9' => Class::Number,
            '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' => Class::Space,
            _ => Class::Other,
        };
    }
    if c.is_whitespace() {
        return Class::Space;
    }
    match c.general_category_group() {
        GeneralCategoryGroup::Letter => Class::Letter,
        GeneralCategoryGroup::Number => Class::Number,
        _ => Class::Other,
    }
}

/// The byte length of the leading run of `text` whose chars are all of class `of`.
fn run_len(text: &str, of: Class) -> usize {
    text.char_indices()
        .find(|&(_, c)| class(c) != of)
        .map_or(text.len(), |(at, _)| at)
}

/// The byte length of the first word GPT-2's pattern matches in `piece` (not empty), with the
/// alternatives tried in the pattern's order.
pub(super) fn first_word(piece: &str) -> usize {
    let bytes = piece.as_bytes();
    // 's|'t|'re|'ve|'m|'ll|'d
    if bytes[0] == b'\'' {
        match bytes[1..] {
            [b's' | b't' | b'm' | b'd', ..] => return 2,
            [b'r', b'e', ..] | [b'v', b'e', ..] | [b'l', b'l', ..] => return 3,
            _ => {}
        }
    }
    let mut chars = piece.chars();
    let first = chars
        .next()
        .expect("a word is looked for in a piece that is not empty");
    // ` ?X+` for X one of \p{L}, \p{N}, [^\s\p{L}\p{N}]: the class after an optional space.
    let space = usize::from(first == ' ');
    let head = if space == 1 {
        chars.next()
    } else {
        Some(first)
    };
    if let Some(head) = head.map(class).filter(|&c| c != Class::Space) {
        return space + run_len(&piece[space..], head);
    }
    // \s+(?!\S): a run of whitespace followed by a non-space stops one char short, so that its
    // last char (a space) starts the next word; \s+ takes a lone one or a run at the end.
    let run = run_len(piece, Class::Space);
    let last_len = piece[..run].chars().next_back().map_or(0, char::len_utf8);
    if run < piece.len() && run > last_len {
        return run - last_len;
    }
    // `run` is never 0 here: a non-space first char was taken above, and a space first char
    // followed by nothing or a space starts a whitespace run.
    run.max(first.len_utf8())
}

/// The words of a text, in order; their concatenation is the text.
pub(super) struct Words<'t> {
    text: &'t str,
    /// Where the next word starts.
    at: usize,
    /// Where the current piece (a text span without number characters) ends: at the next number
    /// character or the text's end; `at` when not known yet.
    piece_end: usize,
}

impl<'t> Words<'t> {
    pub(super) fn new(text: &'t str) -> Self {
        Words {
            text,
            at: 0,
            piece_end: 0,
        }
    }
}

impl<'t> Iterator for Words<'t> {
    type Item = &'t str;

    fn next(&mut self) -> Option<&'t str> {
        let rest = &self.text[self.at..];
        let first = rest.chars().next()?;
        let len = if class(first) == Class::Number {
            first.len_utf8()
        } else {
            if self.piece_end <= self.at {
                // Found once per piece, so splitting stays linear in the text's length.
                let next_number = rest
                    .char_indices()
                    .find(|&(_, c)| class(c) == Class::Number);
                self.piece_end = self.at + next_number.map_or(rest.len(), |(at, _)| at);
            }
            first_word(&self.text[self.at..self.piece_end])
        };
        self.at += len;
        Some(&rest[..len])
    }
}
