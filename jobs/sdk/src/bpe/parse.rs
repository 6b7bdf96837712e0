//! Reading a tokenizer blob (the format is in the parent module's docs) into a [`Vocab`].
//!
//! Parsing runs in every job's `init`, metered, so it is built for few instructions and few cache
//! misses; a first pass reads only the lengths, so that every table is allocated once at its final
//! size:
//!
//! - the token strings, their ends and types, and the merge table (kept in the [`Vocab`]);
//! - last, an index of the tokens by string, needed only to resolve the merges' strings to ids:
//!   dropped at the end as the most recent allocation, which the guest's bump allocator takes
//!   back. Its entries hold each token's first bytes, so that most comparisons do not read the
//!   token strings (a cache miss each, the cost that dominated parsing before).
//!
//! Measured natively on the real SmolLM2 blob by `jobs/sdk/tests/bpe.rs`'s `parse_time`.

use alloc::vec::Vec;

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

use super::{
    BLOB_BYTES_MAX, BYTE_CHARS, MAGIC, Merge, NONE, TOKENS_MAX, TokenType, Vocab, VocabError,
    pair_hash, token_bytes, unicode_to_bytes,
};
use crate::fnv::{fnv1a, fnv1a_extend};

/// Bounded reads from the blob: every read that would pass its end is [`VocabError::Truncated`].
#[derive(Clone)]
struct Reader<'b> {
    bytes: &'b [u8],
    at: usize,
}

impl<'b> Reader<'b> {
    fn take(&mut self, len: usize, field: &'static str) -> Result<&'b [u8], VocabError> {
        let end = self.at.saturating_add(len);
        let taken = self.bytes.get(self.at..end).ok_or(VocabError::Truncated {
            field,
            offset: self.at,
        })?;
        self.at = end;
        Ok(taken)
    }

    fn u16(&mut self, field: &'static str) -> Result<u16, VocabError> {
        let bytes = self.take(2, field)?;
        Ok(u16::from_le_bytes([bytes[0], bytes[1]]))
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, VocabError> {
        let bytes = self.take(4, field)?;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    /// A count of tokens or merges, checked against [`TOKENS_MAX`].
    fn count(&mut self, what: &'static str) -> Result<usize, VocabError> {
        let count = self.u32(what)? as usize;
        if count > TOKENS_MAX || (count == 0 && what == "tokens") {
            return Err(VocabError::BadCount {
                what,
                count,
                max: TOKENS_MAX,
            });
        }
        Ok(count)
    }

    /// The id that a bos or eos field gives, checked against the number of tokens.
    fn special(&mut self, which: &'static str, n_tokens: usize) -> Result<u32, VocabError> {
        let id = self.u32(which)?;
        if id as usize >= n_tokens {
            return Err(VocabError::BadSpecialId {
                which,
                id,
                len: n_tokens,
            });
        }
        Ok(id)
    }
}

/// How many bytes of a token an index entry holds.
const HEAD: usize = 10;

/// An entry of the index by string: a token's id, length and first [`HEAD`] bytes (zero-padded).
#[derive(Clone, Copy)]
struct Slot {
    id: u32,
    len: u16,
    head: [u8; HEAD],
}

/// The first [`HEAD`] bytes of `left ++ right`, zero-padded.
fn head(left: &[u8], right: &[u8]) -> [u8; HEAD] {
    let mut head = [0; HEAD];
    let from_left = left.len().min(HEAD);
    head[..from_left].copy_from_slice(&left[..from_left]);
    let from_right = right.len().min(HEAD - from_left);
    head[from_left..from_left + from_right].copy_from_slice(&right[..from_right]);
    head
}

/// The tokens being read: the strings, ends and types the [`Vocab`] keeps.
struct Tokens {
    text: Vec<u8>,
    ends: Vec<u32>,
    types: Vec<TokenType>,
}

impl Tokens {
    fn token(&self, id: u32) -> &[u8] {
        token_bytes(&self.text, &self.ends, id)
    }

    /// Whether the token in `slot` is `left ++ right`, of `len` bytes and head `head`.
    fn is(&self, slot: &Slot, left: &[u8], right: &[u8], len: usize, head: &[u8; HEAD]) -> bool {
        usize::from(slot.len) == len
            && slot.head == *head
            && (len <= HEAD || {
                let token = self.token(slot.id);
                token.starts_with(left) && token.ends_with(right)
            })
    }
}

/// The index of the tokens by string.
struct Index {
    slots: HashTable<Slot>,
}

impl Index {
    /// The id of the normal token `left ++ right` (`right` may be empty), found without
    /// concatenating.
    fn normal_id(&self, tokens: &Tokens, left: &[u8], right: &[u8]) -> Option<u32> {
        let (len, head) = (left.len() + right.len(), head(left, right));
        let hash = fnv1a_extend(fnv1a(left), right);
        let slot = self
            .slots
            .find(hash, |slot| tokens.is(slot, left, right, len, &head))?;
        (tokens.types[slot.id as usize] == TokenType::Normal).then_some(slot.id)
    }

    /// [`Index::normal_id`], trying `guess` first.
    fn normal_id_at(&self, tokens: &Tokens, guess: u32, left: &[u8], right: &[u8]) -> Option<u32> {
        let len = left.len() + right.len();
        let at_guess = tokens.types.get(guess as usize) == Some(&TokenType::Normal) && {
            let token = tokens.token(guess);
            token.len() == len && token.starts_with(left) && token.ends_with(right)
        };
        if at_guess {
            Some(guess)
        } else {
            self.normal_id(tokens, left, right)
        }
    }

    /// Adds token `id`, `token`; returns the id that has the same string, if one does.
    fn insert(&mut self, tokens: &Tokens, id: u32, token: &[u8]) -> Result<(), u32> {
        let head = head(token, &[]);
        // The length fits: the format gives it as u16.
        let slot = Slot {
            id,
            len: token.len() as u16,
            head,
        };
        // One probe sequence finds a repeat or the place for the new token; the table never
        // grows (its capacity is the number of tokens), the hasher is there for completeness.
        let found = self.slots.entry(
            fnv1a(token),
            |other| tokens.is(other, token, &[], token.len(), &head),
            |other| fnv1a(tokens.token(other.id)),
        );
        match found {
            Entry::Occupied(first) => Err(first.get().id),
            Entry::Vacant(place) => {
                place.insert(slot);
                Ok(())
            }
        }
    }
}

/// The first pass: checks the counts and every length, and returns the number of tokens, their
/// total length in bytes, the number of merges, and where the tokens and the merges start.
fn layout(reader: &mut Reader<'_>) -> Result<[usize; 5], VocabError> {
    if reader.take(MAGIC.len(), "the magic")? != MAGIC {
        return Err(VocabError::BadMagic);
    }
    let n_tokens = reader.count("tokens")?;
    let tokens_at = reader.at;
    let mut text_len = 0;
    for _ in 0..n_tokens {
        reader.take(1, "a token's type")?;
        let len = reader.u16("a token's length")?;
        text_len += reader.take(len.into(), "a token")?.len();
    }
    let n_merges = reader.count("merges")?;
    Ok([n_tokens, text_len, tokens_at, n_merges, reader.at])
}

/// Reads and checks the tokens into `tokens` and `index`.
fn read_tokens(
    reader: &mut Reader<'_>,
    n: usize,
    tokens: &mut Tokens,
    index: &mut Index,
) -> Result<(), VocabError> {
    for id in 0..n as u32 {
        let type_byte = reader.take(1, "a token's type")?[0];
        let token_type = TokenType::from_u8(type_byte).ok_or(VocabError::BadTokenType {
            id,
            token_type: type_byte,
        })?;
        let len = reader.u16("a token's length")?;
        let token = reader.take(len.into(), "a token")?;
        let well_formed = !token.is_empty()
            && match token_type {
                TokenType::Normal => core::str::from_utf8(token)
                    .is_ok_and(|token| unicode_to_bytes(token).all(|b| b.is_some())),
                _ => core::str::from_utf8(token).is_ok(),
            };
        if !well_formed {
            return Err(VocabError::BadToken { id });
        }
        index
            .insert(tokens, id, token)
            .map_err(|first_id| VocabError::DuplicateToken { id, first_id })?;
        tokens.text.extend_from_slice(token);
        // Fits: the blob is at most BLOB_BYTES_MAX bytes.
        tokens.ends.push(tokens.text.len() as u32);
        tokens.types.push(token_type);
    }
    Ok(())
}

/// Reads and checks `n` merges of `tokens` into `merges`.
fn read_merges(
    reader: &mut Reader<'_>,
    n: usize,
    tokens: &Tokens,
    index: &Index,
    merges: &mut HashTable<Merge>,
) -> Result<(), VocabError> {
    // GPT-2-style vocabularies list the merged tokens in merge order (SmolLM2's token of merge r
    // is token r + 252), so the token after the last merge's is tried before a lookup.
    let mut next_merged = 0;
    for rank in 0..n as u32 {
        let len = reader.u16("a merge's length")?;
        let merge = reader.take(len.into(), "a merge")?;
        let bad = VocabError::BadMerge { rank };
        // Normal tokens have no space (byte 0x20 is written `Ġ`), so the first space splits.
        let space = merge.iter().position(|&b| b == b' ').ok_or(bad.clone())?;
        let (left, right) = (&merge[..space], &merge[space + 1..]);
        let (Some(left_id), Some(right_id), Some(merged)) = (
            index.normal_id(tokens, left, &[]),
            index.normal_id(tokens, right, &[]),
            index.normal_id_at(tokens, next_merged, left, right),
        ) else {
            return Err(bad);
        };
        next_merged = merged + 1;
        let found = merges.entry(
            pair_hash(left_id, right_id),
            |m| (m.left, m.right) == (left_id, right_id),
            |m| pair_hash(m.left, m.right),
        );
        match found {
            Entry::Occupied(first) => {
                let first_rank = first.get().rank;
                return Err(VocabError::DuplicateMerge { rank, first_rank });
            }
            Entry::Vacant(place) => place.insert(Merge {
                left: left_id,
                right: right_id,
                rank,
                merged,
            }),
        };
    }
    Ok(())
}

/// [`Vocab::parse`].
pub(super) fn parse(blob: &[u8]) -> Result<Vocab, VocabError> {
    if blob.len() > BLOB_BYTES_MAX {
        return Err(VocabError::TooLarge {
            len_bytes: blob.len(),
            len_bytes_max: BLOB_BYTES_MAX,
        });
    }
    let mut reader = Reader { bytes: blob, at: 0 };
    let [n_tokens, text_len, tokens_at, n_merges, merges_at] = layout(&mut reader.clone())?;
    // In this order, so that the index is the most recent allocation when it is dropped. A merge
    // takes at least 5 bytes ("a b" and its length), so a count the blob cannot hold reserves
    // no more than the blob's size.
    let mut tokens = Tokens {
        text: Vec::with_capacity(text_len),
        ends: Vec::with_capacity(n_tokens),
        types: Vec::with_capacity(n_tokens),
    };
    let mut merges = HashTable::with_capacity(n_merges.min((blob.len() - merges_at) / 5));
    let mut index = Index {
        slots: HashTable::with_capacity(n_tokens),
    };
    reader.at = tokens_at;
    read_tokens(&mut reader, n_tokens, &mut tokens, &mut index)?;
    reader.at = merges_at;
    read_merges(&mut reader, n_merges, &tokens, &index, &mut merges)?;
    let (bos, eos) = (
        reader.special("bos", n_tokens)?,
        reader.special("eos", n_tokens)?,
    );
    if reader.at < blob.len() {
        return Err(VocabError::TrailingBytes {
            len_bytes: blob.len() - reader.at,
        });
    }
    let mut byte_ids = [NONE; 256];
    for (b, id) in byte_ids.iter_mut().enumerate() {
        let mut utf8 = [0; 4];
        let c = char::from_u32(BYTE_CHARS[b].into()).expect("byte chars are below U+0144");
        let token = c.encode_utf8(&mut utf8).as_bytes();
        *id = index.normal_id(&tokens, token, &[]).unwrap_or(NONE);
    }
    drop(index);
    let Tokens { text, ends, types } = tokens;
    Ok(Vocab {
        text,
        ends,
        types,
        merges,
        byte_ids,
        bos,
        eos,
    })
}
