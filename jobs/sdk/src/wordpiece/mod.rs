//! BERT WordPiece tokenization, exactly as HuggingFace `tokenizers` runs the `tokenizer.json` of
//! uncased BERT models such as sentence-transformers/all-MiniLM-L6-v2.
//!
//! [`Vocab::parse`] reads a `vocab.txt` (one token per line, id = line index) once, in a job's
//! `init`; [`Vocab::encode`] then turns each text into `[CLS]`, its wordpieces, `[SEP]`:
//!
//! 1. The special tokens `[PAD]`, `[UNK]`, `[CLS]`, `[SEP]`, `[MASK]` written literally in the text
//!    (case-sensitive, before any normalization) are tokens of their own, as HuggingFace's added
//!    tokens are.
//! 2. The rest is normalized and split into words (the `text` module: clean, space around CJK
//!    ideographs, NFD without nonspacing marks, lowercase; split on whitespace and punctuation).
//! 3. Each word becomes wordpieces, greedily longest-match-first from its start, every piece after
//!    the first looked up with the `##` continuation prefix. A word with a part that matches
//!    nothing, or longer than 100 chars, is one `[UNK]`.
//! 4. Truncation keeps the first `tokens_max - 2` tokens (a word may be cut), then `[CLS]` and
//!    `[SEP]` go around them.
//!
//! Encoding allocates nothing but the growth of the caller's output vector (the guest's bump
//! allocator never reuses memory freed out of order), and looks pieces up in hash tables keyed by
//! slices of the word, so a lookup builds no string. The hash is FNV-1a with a fixed basis, not a
//! randomly seeded one: the probes a lookup makes, hence the fuel a job burns, are the same on
//! every host.
//!
//! The Unicode data (general categories, canonical decompositions) comes from the maintained
//! `unicode-properties` and `unicode-normalization` crates (Unicode 16+). HuggingFace's tables are
//! older (Unicode 9), so characters assigned or recategorized since then are classified as
//! current Unicode says: checked one code point at a time against HuggingFace's normalizer and
//! pre-tokenizer, 706 of the 1,112,064 code points differ, all of them outside the scripts of the
//! reference texts: 525 nonspacing marks and 20 format characters that we drop and HuggingFace
//! keeps, 145 punctuation characters that we split off and it does not, 14 characters with
//! decompositions new in Unicode 16, U+1734 (now a spacing mark, kept) and U+166D (now a symbol,
//! not split). Every reference text in `jobs/sdk/tests/wordpiece/` matches exactly.

mod text;

use alloc::string::String;
use alloc::vec::Vec;

use hashbrown::HashTable;

use crate::fnv::fnv1a as hash;
use text::{Word, is_punctuation, is_whitespace, normalized};

/// The most tokens a vocabulary may have (BERT's are 30-120 thousand).
pub const VOCAB_TOKENS_MAX: usize = 1 << 20;

/// The largest `vocab.txt` accepted, in bytes (token spans are stored as `u32`).
pub const VOCAB_BYTES_MAX: usize = 1 << 24;

/// The prefix of a wordpiece that continues a word.
const CONTINUATION_PREFIX: &str = "##";

/// The special tokens a BERT vocabulary must have.
const CLS: &str = "[CLS]";
const SEP: &str = "[SEP]";
const UNK: &str = "[UNK]";

/// The tokens that match literally in a text (HuggingFace's added tokens for BERT); those absent
/// from the vocabulary are not matched.
const SPECIALS: [&str; 5] = ["[PAD]", UNK, CLS, SEP, "[MASK]"];

/// Why a `vocab.txt` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VocabError {
    /// The file is not UTF-8.
    #[error("vocab is not UTF-8 (first bad byte at offset {offset_bytes})")]
    NotUtf8 {
        /// Offset of the first byte that is not valid UTF-8.
        offset_bytes: usize,
    },
    /// The file has no token.
    #[error("vocab is empty")]
    Empty,
    /// The file is larger than [`VOCAB_BYTES_MAX`].
    #[error("vocab has {len_bytes} bytes, more than {len_bytes_max}")]
    TooLarge {
        /// The file's length.
        len_bytes: usize,
        /// [`VOCAB_BYTES_MAX`].
        len_bytes_max: usize,
    },
    /// The file has more than [`VOCAB_TOKENS_MAX`] lines.
    #[error("vocab has more than {tokens_max} tokens")]
    TooManyTokens {
        /// [`VOCAB_TOKENS_MAX`].
        tokens_max: usize,
    },
    /// A line is empty.
    #[error("vocab line {line} is empty")]
    EmptyToken {
        /// The line's number, from 1.
        line: usize,
    },
    /// A token appears twice.
    #[error("vocab line {line} repeats the token of line {first_line}")]
    DuplicateToken {
        /// The repeating line's number, from 1.
        line: usize,
        /// The number of the line that has the token first, from 1.
        first_line: usize,
    },
    /// One of `[CLS]`, `[SEP]`, `[UNK]` is missing.
    #[error("vocab has no {token} token")]
    MissingSpecial {
        /// The missing token.
        token: &'static str,
    },
}

/// A WordPiece vocabulary: tokens by id and ids by token.
pub struct Vocab {
    /// The file's text; every token is a slice of it.
    text: String,
    /// Each token's byte range in `text`, by id.
    spans: Vec<(u32, u32)>,
    /// Every token's id, keyed by the token.
    ids: HashTable<u32>,
    /// The id of every `##`-prefixed token, keyed by the token without its prefix.
    continuations: HashTable<u32>,
    /// The longest token / continuation (without prefix) in bytes: longer pieces are not tried.
    token_bytes_max: usize,
    continuation_bytes_max: usize,
    cls: u32,
    sep: u32,
    unk: u32,
    /// The special tokens that match literally in a text, with their ids.
    specials: Vec<(&'static str, u32)>,
}

impl core::fmt::Debug for Vocab {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Vocab")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

/// The token `id` spans in `text`.
fn span_text<'t>(text: &'t str, spans: &[(u32, u32)], id: u32) -> &'t str {
    let (start, end) = spans[id as usize];
    &text[start as usize..end as usize]
}

/// `token` without its `##` prefix, if it has one.
fn continuation_key(token: &str) -> Option<&str> {
    token.strip_prefix(CONTINUATION_PREFIX)
}

impl Vocab {
    /// Parses vocab.txt bytes: one token per line (LF, tolerate a trailing CRLF/LF), id = line index.
    pub fn parse(bytes: &[u8]) -> Result<Vocab, VocabError> {
        if bytes.len() > VOCAB_BYTES_MAX {
            return Err(VocabError::TooLarge {
                len_bytes: bytes.len(),
                len_bytes_max: VOCAB_BYTES_MAX,
            });
        }
        let text = core::str::from_utf8(bytes).map_err(|e| VocabError::NotUtf8 {
            offset_bytes: e.valid_up_to(),
        })?;
        let body = text.strip_suffix('\n').unwrap_or(text);
        if body.is_empty() {
            return Err(VocabError::Empty);
        }
        let mut spans = Vec::new();
        let mut ids = HashTable::new();
        let mut continuations = HashTable::new();
        let (mut token_bytes_max, mut continuation_bytes_max) = (0, 0);
        let mut start = 0;
        for (index, line) in body.split('\n').enumerate() {
            if index == VOCAB_TOKENS_MAX {
                return Err(VocabError::TooManyTokens {
                    tokens_max: VOCAB_TOKENS_MAX,
                });
            }
            let token = line.strip_suffix('\r').unwrap_or(line);
            if token.is_empty() {
                return Err(VocabError::EmptyToken { line: index + 1 });
            }
            // Both fit in u32: the file is at most VOCAB_BYTES_MAX bytes.
            spans.push((start as u32, (start + token.len()) as u32));
            start += line.len() + 1;
            let id = index as u32;
            let key = |&i: &u32| hash(span_text(text, &spans, i).as_bytes());
            if let Some(&first) = ids.find(hash(token.as_bytes()), |&i| {
                span_text(text, &spans, i) == token
            }) {
                return Err(VocabError::DuplicateToken {
                    line: index + 1,
                    first_line: first as usize + 1,
                });
            }
            ids.insert_unique(hash(token.as_bytes()), id, key);
            token_bytes_max = token_bytes_max.max(token.len());
            if let Some(rest) = continuation_key(token) {
                let key = |&i: &u32| {
                    let token = span_text(text, &spans, i);
                    hash(continuation_key(token).unwrap_or(token).as_bytes())
                };
                continuations.insert_unique(hash(rest.as_bytes()), id, key);
                continuation_bytes_max = continuation_bytes_max.max(rest.len());
            }
        }
        let mut vocab = Vocab {
            text: String::from(text),
            spans,
            ids,
            continuations,
            token_bytes_max,
            continuation_bytes_max,
            cls: 0,
            sep: 0,
            unk: 0,
            specials: Vec::new(),
        };
        let special = |token| vocab.id(token).ok_or(VocabError::MissingSpecial { token });
        (vocab.cls, vocab.sep, vocab.unk) = (special(CLS)?, special(SEP)?, special(UNK)?);
        vocab.specials = SPECIALS
            .iter()
            .filter_map(|&token| Some((token, vocab.id(token)?)))
            .collect();
        Ok(vocab)
    }

    /// The number of tokens.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether the vocabulary has no token (never, for a parsed one).
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The id of `token`.
    pub fn id(&self, token: &str) -> Option<u32> {
        self.ids
            .find(hash(token.as_bytes()), |&i| self.token_at(i) == token)
            .copied()
    }

    /// The token of `id`.
    pub fn token(&self, id: u32) -> Option<&str> {
        let &(start, end) = self.spans.get(id as usize)?;
        Some(&self.text[start as usize..end as usize])
    }

    fn token_at(&self, id: u32) -> &str {
        span_text(&self.text, &self.spans, id)
    }

    /// The id of `##piece`, looked up without building that string.
    fn continuation_id(&self, piece: &str) -> Option<u32> {
        self.continuations
            .find(hash(piece.as_bytes()), |&i| {
                &self.token_at(i)[CONTINUATION_PREFIX.len()..] == piece
            })
            .copied()
    }

    /// Appends [CLS], the wordpieces of `text`, [SEP] to `out` (cleared first), at most `tokens_max` ids in all (tokens_max >= 2).
    ///
    /// # Panics
    ///
    /// If `tokens_max < 2` (no room for `[CLS]` and `[SEP]`): a caller's bug, not an input's.
    pub fn encode(&self, text: &str, tokens_max: usize, out: &mut Vec<u32>) {
        assert!(
            tokens_max >= 2,
            "tokens_max {tokens_max} leaves no room for [CLS] and [SEP]"
        );
        out.clear();
        // Reserved up front so that the pushes below never reallocate.
        out.reserve(tokens_max);
        out.push(self.cls);
        let mut encoder = Encoder {
            vocab: self,
            out,
            limit: tokens_max - 1,
            word: Word::new(),
        };
        let mut rest = text;
        while !encoder.is_full() && !rest.is_empty() {
            let (plain, special) = self.split_special(rest);
            encoder.plain(plain);
            match special {
                Some((id, after)) => {
                    encoder.push(id);
                    rest = after;
                }
                None => rest = "",
            }
        }
        out.push(self.sep);
    }

    /// Splits `text` at its first special token: the text before it, and the token's id with the
    /// text after it.
    fn split_special<'t>(&self, text: &'t str) -> (&'t str, Option<(u32, &'t str)>) {
        let mut from = 0;
        while let Some(offset) = text[from..].find('[') {
            let at = from + offset;
            // No special token is a prefix of another, so the first that matches is the longest.
            for &(token, id) in &self.specials {
                if text[at..].starts_with(token) {
                    return (&text[..at], Some((id, &text[at + token.len()..])));
                }
            }
            from = at + 1;
        }
        (text, None)
    }
}

/// One text's encoding in progress: words are collected from the normalized chars and turned into
/// wordpieces in `out` until `out` holds `limit` ids.
struct Encoder<'v, 'o> {
    vocab: &'v Vocab,
    out: &'o mut Vec<u32>,
    /// The most ids `out` may hold before `[SEP]`.
    limit: usize,
    word: Word,
}

impl Encoder<'_, '_> {
    fn is_full(&self) -> bool {
        self.out.len() >= self.limit
    }

    fn push(&mut self, id: u32) {
        if !self.is_full() {
            self.out.push(id);
        }
    }

    /// Encodes a text that holds no special token.
    fn plain(&mut self, text: &str) {
        for c in normalized(text) {
            if self.is_full() {
                return;
            }
            if is_whitespace(c) {
                self.end_word();
            } else if is_punctuation(c) {
                self.end_word();
                self.word.push(c);
                self.end_word();
            } else {
                self.word.push(c);
            }
        }
        self.end_word();
    }

    /// Turns the collected word into wordpieces (or one `[UNK]`) and starts a new word.
    fn end_word(&mut self) {
        if self.word.is_empty() {
            return;
        }
        let start_len = self.out.len();
        let found = match self.word.text() {
            Some(word) => wordpieces(self.vocab, word, |id| {
                if self.out.len() < self.limit {
                    self.out.push(id);
                }
            }),
            None => false,
        };
        if !found {
            self.out.truncate(start_len);
            self.push(self.vocab.unk);
        }
        self.word.clear();
    }
}

/// Emits the wordpieces of `word`, greedily longest first; returns false (after emitting some
/// pieces, maybe) when a part of `word` matches no piece, so that the word is `[UNK]` instead.
fn wordpieces(vocab: &Vocab, word: &str, mut emit: impl FnMut(u32)) -> bool {
    let mut start = 0;
    while start < word.len() {
        let piece_bytes_max = if start == 0 {
            vocab.token_bytes_max
        } else {
            vocab.continuation_bytes_max
        };
        // Pieces longer than the longest token cannot match: start below that, on a char boundary.
        let mut end = word.len().min(start + piece_bytes_max);
        while !word.is_char_boundary(end) {
            end -= 1;
        }
        let id = loop {
            if end <= start {
                return false;
            }
            let piece = &word[start..end];
            let id = if start == 0 {
                vocab.id(piece)
            } else {
                vocab.continuation_id(piece)
            };
            if let Some(id) = id {
                break id;
            }
            end -= piece.chars().next_back().map_or(1, char::len_utf8);
        };
        emit(id);
        start = end;
    }
    true
}

#[cfg(test)]
mod tests;
