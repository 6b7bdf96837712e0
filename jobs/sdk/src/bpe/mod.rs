//! Byte-level BPE tokenization (GPT-2's scheme) as llama.cpp runs the `gpt2` tokenizer of a GGUF
//! file with the `smollm` pre-tokenizer: SmolLM2's.
//!
//! [`Vocab::parse`] reads a tokenizer blob (below) once, in a job's `init`; [`Vocab::encode`] then
//! turns a text into token ids, and [`Vocab::decode`] ids back into bytes:
//!
//! 1. The text is split into words (the `pretokenize` module: digits one by one, then GPT-2's
//!    pattern of contractions, letters, numbers, other symbols and whitespace runs).
//! 2. Each word starts as one symbol per UTF-8 byte: the token of that byte (GPT-2 writes byte `b`
//!    as the char `bytes_to_unicode(b)` in token strings, so `' '` is `Ġ`).
//! 3. Adjacent symbols are merged, the pair with the lowest merge rank first (the leftmost among
//!    equal ranks), until no adjacent pair has a merge. Every merge joins two tokens into a token,
//!    so every symbol is a token. A byte without a token (SmolLM2 has none for the control bytes
//!    0x04, 0x06, 0x13, 0x14, 0x16, 0x1D, and for bytes that never occur in UTF-8) merges with
//!    nothing and gives no id, as in llama.cpp, which drops it: such a text does not decode back
//!    to itself.
//!
//! Special tokens: `encode` treats its text as plain text, so `"<|im_end|>"` written in a text is
//! ordinary tokens (`<`, `|`, `im`, `_`, `end`, `|`, `>` with SmolLM2's), never the control
//! token, and a user cannot inject a turn boundary. (llama.cpp parses specials in a text only when asked to, with
//! `special = true`; the chat template in the `chat` module places the control tokens itself.)
//! Parsing refuses a blob in which a merge makes a control token, so no text encodes to one.
//! `decode` writes the bytes of normal tokens only, as llama.cpp's `token_to_piece` does without
//! `special`: control, unknown, unused and byte-typed tokens give nothing.
//!
//! Encoding allocates only the growth of the caller's output vector and, once per call, the
//! merging scratch (reused from word to word, so it grows to the text's longest word): the
//! guest's bump allocator never reuses memory freed out of order. Merges are looked up by pair
//! of ids in a hash table with the fixed FNV-1a hash, so the fuel a job burns is the same on
//! every host; a word of n bytes takes O(n log n) steps (a priority queue of candidate merges,
//! as llama.cpp's), so a long run of letters or symbols costs no quadratic fuel.
//!
//! # The tokenizer blob
//!
//! Written by `cargo xtask models` from the GGUF file's `tokenizer.ggml.*` metadata. All integers
//! little-endian:
//!
//! | field | type | meaning |
//! |---|---|---|
//! | magic | 8 bytes | `PLXBPE01` |
//! | n_tokens | u32 | the vocabulary size, 1 to [`TOKENS_MAX`] |
//! | tokens | n_tokens × (u8 type, u16 len, len bytes) | by id: the type as in `tokenizer.ggml.token_type` (1 normal, 2 unknown, 3 control, 5 unused, 6 byte; 4, user-defined, is refused), and the token string unchanged: UTF-8, normal tokens in GPT-2's byte-to-unicode form |
//! | n_merges | u32 | at most [`TOKENS_MAX`] |
//! | merges | n_merges × (u16 len, len bytes) | by rank, best first: `tokenizer.ggml.merges` unchanged, `"left right"` |
//! | bos_token_id | u32 | below n_tokens |
//! | eos_token_id | u32 | below n_tokens |
//!
//! and nothing after. A blob is refused (never a panic) when it is truncated or longer, when a
//! token is empty, not UTF-8, repeated, of an unknown type, or a normal one with a char that is
//! not a byte's, or when a merge is not two normal tokens whose concatenation is a normal token,
//! or repeats an earlier merge.

mod chat;
mod parse;
mod pretokenize;

use alloc::collections::BinaryHeap;
use alloc::vec::Vec;
use core::cmp::Reverse;

use hashbrown::HashTable;

use crate::fnv::{fnv1a, fnv1a_extend};

pub use chat::{ChatTemplate, IM_END, IM_START, SYSTEM_PROMPT};

/// The blob's first eight bytes.
pub const MAGIC: &[u8; 8] = b"PLXBPE01";

/// The most tokens, and the most merges, a blob may have (GPT-2-style vocabularies have 30-260
/// thousand).
pub const TOKENS_MAX: usize = 1 << 20;

/// The largest blob accepted, in bytes (token offsets are stored as `u32`).
pub const BLOB_BYTES_MAX: usize = 1 << 26;

/// A token's type, as GGUF's `tokenizer.ggml.token_type` numbers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum TokenType {
    /// A token of text, in byte-to-unicode form.
    Normal = 1,
    /// The unknown token.
    Unknown = 2,
    /// A control token (`<|im_start|>`): placed by templates, never made from text.
    Control = 3,
    /// Reserved, not used.
    Unused = 5,
    /// A byte token of SentencePiece vocabularies (`<0x0A>`).
    Byte = 6,
}

impl TokenType {
    /// GGUF's type 4, user-defined, is not accepted: llama.cpp matches such tokens literally in
    /// plain text, a rule this tokenizer does not have (SmolLM2 has none).
    fn from_u8(value: u8) -> Option<TokenType> {
        Some(match value {
            1 => TokenType::Normal,
            2 => TokenType::Unknown,
            3 => TokenType::Control,
            5 => TokenType::Unused,
            6 => TokenType::Byte,
            _ => return None,
        })
    }
}

/// Why a tokenizer blob was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VocabError {
    /// The blob is larger than [`BLOB_BYTES_MAX`].
    #[error("tokenizer blob has {len_bytes} bytes, more than {len_bytes_max}")]
    TooLarge {
        /// The blob's length.
        len_bytes: usize,
        /// [`BLOB_BYTES_MAX`].
        len_bytes_max: usize,
    },
    /// The blob does not start with [`MAGIC`].
    #[error("tokenizer blob does not start with PLXBPE01")]
    BadMagic,
    /// The blob ends inside a field.
    #[error("tokenizer blob ends inside {field} (at byte {offset})")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Where the field starts.
        offset: usize,
    },
    /// Bytes follow the last field.
    #[error("tokenizer blob has {len_bytes} bytes after its last field")]
    TrailingBytes {
        /// How many.
        len_bytes: usize,
    },
    /// There are no tokens, or more than [`TOKENS_MAX`] tokens or merges.
    #[error("tokenizer blob has {count} {what}, not 1 to {max}")]
    BadCount {
        /// `"tokens"` or `"merges"`.
        what: &'static str,
        /// The count the blob gives.
        count: usize,
        /// [`TOKENS_MAX`].
        max: usize,
    },
    /// A token's type is not one of [`TokenType`].
    #[error("token {id} has type {token_type}, not 1, 2, 3, 5 or 6")]
    BadTokenType {
        /// The token's id.
        id: u32,
        /// Its type byte.
        token_type: u8,
    },
    /// A token is empty, not UTF-8, or (a normal one) has a char that stands for no byte.
    #[error("token {id} is empty, not UTF-8 or not in byte-to-unicode form")]
    BadToken {
        /// The token's id.
        id: u32,
    },
    /// A token string appears twice.
    #[error("token {id} repeats token {first_id}")]
    DuplicateToken {
        /// The repeating token's id.
        id: u32,
        /// The id that has the string first.
        first_id: u32,
    },
    /// A merge is not two normal tokens whose concatenation is a normal token.
    #[error("merge {rank} is not two normal tokens that join into a normal token")]
    BadMerge {
        /// The merge's rank (its index).
        rank: u32,
    },
    /// A merge repeats an earlier one.
    #[error("merge {rank} repeats merge {first_rank}")]
    DuplicateMerge {
        /// The repeating merge's rank.
        rank: u32,
        /// The earlier merge's rank.
        first_rank: u32,
    },
    /// The bos or eos id is not a token.
    #[error("{which} token id {id} is not below the {len} tokens")]
    BadSpecialId {
        /// `"bos"` or `"eos"`.
        which: &'static str,
        /// The id the blob gives.
        id: u32,
        /// The number of tokens.
        len: usize,
    },
    /// A control token the chat template needs is missing.
    #[error("tokenizer has no control token {token}")]
    MissingControl {
        /// The missing token.
        token: &'static str,
    },
}

/// An id passed to [`Vocab::decode`] that is not a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("token id {id} is not below the vocabulary's {len} tokens")]
pub struct UnknownId {
    /// The id.
    pub id: u32,
    /// The number of tokens.
    pub len: usize,
}

/// GPT-2's `bytes_to_unicode`: the code point of the char that stands for each byte in token
/// strings. Printable bytes (`!`-`~`, `¡`-`¬`, `®`-`ÿ`) stand for themselves; the other 68 get
/// U+0100 up, in byte order.
const BYTE_CHARS: [u16; 256] = byte_chars();

/// The code points [`BYTE_CHARS`] uses are all below this.
const BYTE_CHARS_END: usize = 0x144;

/// The inverse of [`BYTE_CHARS`]: the byte each code point below [`BYTE_CHARS_END`] stands for,
/// or [`NO_BYTE`].
const CHAR_BYTES: [u16; BYTE_CHARS_END] = char_bytes();
const NO_BYTE: u16 = u16::MAX;

const fn byte_chars() -> [u16; 256] {
    let mut table = [0; 256];
    let mut next = 0x100;
    let mut b = 0;
    while b < 256 {
        let printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        table[b] = if printable {
            b as u16
        } else {
            next += 1;
            next - 1
        };
        b += 1;
    }
    table
}

const fn char_bytes() -> [u16; BYTE_CHARS_END] {
    let mut table = [NO_BYTE; BYTE_CHARS_END];
    let mut b = 0;
    while b < 256 {
        table[BYTE_CHARS[b] as usize] = b as u16;
        b += 1;
    }
    table
}

/// The bytes a token string in byte-to-unicode form stands for, or `None` if a char stands for no
/// byte.
fn unicode_to_bytes(token: &str) -> impl Iterator<Item = Option<u8>> + '_ {
    token.chars().map(|c| {
        let byte = *CHAR_BYTES.get(c as usize)?;
        (byte != NO_BYTE).then_some(byte as u8)
    })
}

/// A merge: the ids of its two parts, its rank and the id of the token it makes.
#[derive(Clone, Copy, Debug)]
struct Merge {
    left: u32,
    right: u32,
    rank: u32,
    merged: u32,
}

/// The hash of a pair of ids in the merge table.
fn pair_hash(left: u32, right: u32) -> u64 {
    fnv1a_extend(fnv1a(&left.to_le_bytes()), &right.to_le_bytes())
}

/// "No token": a byte without one, a merged-away symbol, the end of a symbol list.
const NONE: u32 = u32::MAX;

/// A byte-level BPE vocabulary: tokens, types and merges.
pub struct Vocab {
    /// Every token string, concatenated in id order, as the blob has them.
    text: Vec<u8>,
    /// Token `id` is `text[ends[id - 1]..ends[id]]` (from 0 for id 0).
    ends: Vec<u32>,
    types: Vec<TokenType>,
    /// The merges, keyed by their pair of ids.
    merges: HashTable<Merge>,
    /// The id of each byte's token, or [`NONE`].
    byte_ids: [u32; 256],
    bos: u32,
    eos: u32,
}

impl core::fmt::Debug for Vocab {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Vocab")
            .field("len", &self.len())
            .field("merges", &self.merges.len())
            .finish_non_exhaustive()
    }
}

/// The bytes of token `id` in a vocabulary's text.
fn token_bytes<'t>(text: &'t [u8], ends: &[u32], id: u32) -> &'t [u8] {
    let start = match id {
        0 => 0,
        _ => ends[id as usize - 1] as usize,
    };
    &text[start..ends[id as usize] as usize]
}

impl Vocab {
    /// Parses a tokenizer blob (the module docs give its format).
    pub fn parse(blob: &[u8]) -> Result<Vocab, VocabError> {
        parse::parse(blob)
    }

    /// The number of tokens.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the vocabulary has no token (never, for a parsed one).
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The string of token `id` as the blob has it (normal tokens in byte-to-unicode form).
    pub fn token(&self, id: u32) -> Option<&str> {
        let id_ok = (id as usize) < self.len();
        let token = id_ok.then(|| token_bytes(&self.text, &self.ends, id))?;
        Some(core::str::from_utf8(token).expect("parse checked every token is UTF-8"))
    }

    /// The type of token `id`.
    pub fn token_type(&self, id: u32) -> Option<TokenType> {
        self.types.get(id as usize).copied()
    }

    /// The id of the control token `token`, if the vocabulary has it.
    pub fn control_id(&self, token: &str) -> Option<u32> {
        (0..self.len() as u32).find(|&id| {
            self.types[id as usize] == TokenType::Control && self.token(id) == Some(token)
        })
    }

    /// The beginning-of-sequence token's id (the blob's `bos_token_id`).
    pub fn bos(&self) -> u32 {
        self.bos
    }

    /// The end-of-sequence token's id (the blob's `eos_token_id`).
    pub fn eos(&self) -> u32 {
        self.eos
    }

    /// Appends the token ids of `text`, all of it plain text (see the module docs), to `out`.
    pub fn encode(&self, text: &str, out: &mut Vec<u32>) {
        let mut encoder = Encoder::default();
        for word in pretokenize::Words::new(text) {
            encoder.word(self, word.as_bytes(), out);
        }
    }

    /// Appends the bytes of the tokens `ids` to `out`: normal tokens only, others give nothing.
    /// The bytes are not always UTF-8 (a token may hold part of a char, the next token the rest).
    pub fn decode(&self, ids: &[u32], out: &mut Vec<u8>) -> Result<(), UnknownId> {
        for &id in ids {
            let token = self.token(id).ok_or(UnknownId {
                id,
                len: self.len(),
            })?;
            if self.types[id as usize] == TokenType::Normal {
                out.extend(unicode_to_bytes(token).map(|b| b.expect("parse checked the chars")));
            }
        }
        Ok(())
    }

    /// The merge of the pair of tokens `(left, right)`, if there is one.
    fn merge(&self, left: u32, right: u32) -> Option<&Merge> {
        self.merges.find(pair_hash(left, right), |m| {
            (m.left, m.right) == (left, right)
        })
    }
}

/// A symbol of a word being merged: its token, and its neighbours' indices ([`NONE`] at the word's
/// ends). A symbol merged into its left neighbour has the token [`NONE`].
#[derive(Clone, Copy, Debug)]
struct Symbol {
    id: u32,
    prev: u32,
    next: u32,
}

/// The scratch of BPE merging, reused from word to word.
#[derive(Default)]
struct Encoder {
    symbols: Vec<Symbol>,
    /// Candidate merges, lowest (rank, left symbol's index) first. An entry may be stale (its
    /// symbols merged since it was pushed): it is checked when popped.
    queue: BinaryHeap<Reverse<(u32, u32)>>,
}

impl Encoder {
    /// Queues the merge of symbol `left` with its right neighbour, if they have one.
    fn push_pair(&mut self, vocab: &Vocab, left: u32) {
        if left == NONE {
            return;
        }
        let symbol = self.symbols[left as usize];
        if symbol.next == NONE {
            return;
        }
        let right = self.symbols[symbol.next as usize].id;
        if let Some(merge) = vocab.merge(symbol.id, right) {
            self.queue.push(Reverse((merge.rank, left)));
        }
    }

    /// Appends the ids of one word (its UTF-8 bytes) to `out`.
    fn word(&mut self, vocab: &Vocab, word: &[u8], out: &mut Vec<u32>) {
        self.symbols.clear();
        self.queue.clear();
        // Words are far shorter than 4 GiB: texts come from a job's input.
        let len = word.len() as u32;
        self.symbols
            .extend(word.iter().zip(0..).map(|(&b, i)| Symbol {
                id: vocab.byte_ids[usize::from(b)],
                prev: if i == 0 { NONE } else { i - 1 },
                next: if i + 1 == len { NONE } else { i + 1 },
            }));
        for left in 0..len {
            self.push_pair(vocab, left);
        }
        while let Some(Reverse((rank, left))) = self.queue.pop() {
            let symbol = self.symbols[left as usize];
            if symbol.id == NONE || symbol.next == NONE {
                continue;
            }
            let right = self.symbols[symbol.next as usize];
            // Ranks are unique per pair, so the same rank means the same pair of tokens as when
            // the entry was pushed.
            let merged = match vocab.merge(symbol.id, right.id) {
                Some(merge) if merge.rank == rank => merge.merged,
                _ => continue,
            };
            self.symbols[symbol.next as usize].id = NONE;
            self.symbols[left as usize].id = merged;
            self.symbols[left as usize].next = right.next;
            if right.next != NONE {
                self.symbols[right.next as usize].prev = left;
            }
            self.push_pair(vocab, symbol.prev);
            self.push_pair(vocab, left);
        }
        let mut at = if self.symbols.is_empty() { NONE } else { 0 };
        while at != NONE {
            let symbol = self.symbols[at as usize];
            if symbol.id != NONE {
                out.push(symbol.id);
            }
            at = symbol.next;
        }
    }
}

#[cfg(test)]
mod tests;
