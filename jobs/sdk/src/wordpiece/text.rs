//! The BERT normalizer and pre-tokenizer as HuggingFace `tokenizers` defines them for uncased
//! BERT vocabularies (`BertNormalizer { clean_text, handle_chinese_chars, strip_accents: None,
//! lowercase }` and `BertPreTokenizer`).
//!
//! The normalizer is a stream of chars ([`normalized`]), not a string, so that encoding a text
//! allocates nothing: the guest's bump allocator never reuses memory freed out of order, so a
//! scratch string per text would leak. The steps and their order are HuggingFace's:
//!
//! 1. clean: drop NUL, U+FFFD and control characters (general category Cc, Cf, Co, except tab,
//!    LF and CR), then map every whitespace character to a space;
//! 2. put a space before and after each CJK ideograph (the ranges of [`is_chinese`]);
//! 3. strip accents: canonical decomposition (NFD), then drop nonspacing marks (Mn);
//! 4. lowercase with Unicode's full mapping (`char::to_lowercase`).
//!
//! The pre-tokenizer then splits the stream on whitespace (dropped) and makes every punctuation
//! character ([`is_punctuation`]) a word of its own.

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory};

/// Whether the cleaning step drops `c` (HuggingFace's `is_control`, which also covers format and
/// private-use characters; tab, LF and CR are whitespace instead).
pub(super) fn is_control(c: char) -> bool {
    !matches!(c, '\t' | '\n' | '\r')
        && matches!(
            c.general_category(),
            GeneralCategory::Control
                | GeneralCategory::Format
                | GeneralCategory::PrivateUse
                | GeneralCategory::Surrogate
        )
}

/// Whether the cleaning step turns `c` into a space (Unicode White_Space, plus tab, LF and CR).
pub(super) fn is_whitespace(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || c.is_whitespace()
}

/// Whether `c` is a CJK ideograph that gets spaces around it: the CJK Unified Ideographs block,
/// extensions A to E and the two compatibility blocks, the ranges HuggingFace and Google's BERT use
/// (Hangul, kana and later extensions are not in it).
pub(super) fn is_chinese(c: char) -> bool {
    matches!(
        u32::from(c),
        0x4E00..=0x9FFF
            | 0x3400..=0x4DBF
            | 0x20000..=0x2A6DF
            | 0x2A700..=0x2B73F
            | 0x2B740..=0x2B81F
            | 0x2B920..=0x2CEAF
            | 0xF900..=0xFAFF
            | 0x2F800..=0x2FA1F
    )
}

/// Whether `c` is a word of its own: ASCII punctuation (which includes symbols such as `$`, `+`,
/// `<`, `^`, `` ` ``, `|`, `~`) or any character of general category P*.
pub(super) fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || c.general_category_group() == GeneralCategoryGroup::Punctuation
}

/// Whether accent stripping drops `c` (general category Mn).
fn is_nonspacing_mark(c: char) -> bool {
    c.general_category() == GeneralCategory::NonspacingMark
}

/// The normalized chars of `text`, without allocating (see the module docs for the steps).
pub(super) fn normalized(text: &str) -> impl Iterator<Item = char> + '_ {
    text.chars()
        .filter(|&c| !(c == '\0' || c == '\u{FFFD}' || is_control(c)))
        .map(|c| if is_whitespace(c) { ' ' } else { c })
        .flat_map(|c| {
            if is_chinese(c) {
                [' ', c, ' '].into_iter().take(3)
            } else {
                [c, c, c].into_iter().take(1)
            }
        })
        .nfd()
        .filter(|&c| !is_nonspacing_mark(c))
        .flat_map(char::to_lowercase)
}

/// The characters of one word, up to the longest word WordPiece splits (longer words become a
/// single `[UNK]`, so only their length in chars is kept).
pub(super) struct Word {
    /// The word's UTF-8 bytes while it has at most [`Word::CHARS_MAX`] chars.
    bytes: [u8; Word::BYTES_MAX],
    len_bytes: usize,
    len_chars: usize,
}

impl Word {
    /// HuggingFace's `max_input_chars_per_word` for BERT: a longer word is one `[UNK]`.
    pub(super) const CHARS_MAX: usize = 100;
    const BYTES_MAX: usize = Word::CHARS_MAX * 4;

    pub(super) const fn new() -> Self {
        Self {
            bytes: [0; Word::BYTES_MAX],
            len_bytes: 0,
            len_chars: 0,
        }
    }

    pub(super) fn push(&mut self, c: char) {
        if self.len_chars < Word::CHARS_MAX {
            let len = c.encode_utf8(&mut self.bytes[self.len_bytes..]).len();
            self.len_bytes += len;
        }
        self.len_chars += 1;
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len_chars == 0
    }

    /// The word's text, or `None` when it is longer than [`Word::CHARS_MAX`] chars.
    pub(super) fn text(&self) -> Option<&str> {
        if self.len_chars > Word::CHARS_MAX {
            return None;
        }
        let text = core::str::from_utf8(&self.bytes[..self.len_bytes]);
        Some(text.expect("Word::push encodes whole chars only"))
    }

    pub(super) fn clear(&mut self) {
        self.len_bytes = 0;
        self.len_chars = 0;
    }
}
