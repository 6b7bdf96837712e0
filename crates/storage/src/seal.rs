//! Client-side encryption, so storage providers only ever hold ciphertext.
//!
//! The construction is age's (X25519 recipients, ChaCha20-Poly1305 STREAM in 64 KiB chunks),
//! written with the `chacha20poly1305` crate rather than taken from the `age` crate, because:
//!
//! - The key lives in the Plexus keystore. The recipient is an X25519 public key; a Plexus
//!   account key converts to one (the ed25519 key's Montgomery form, as age and libsodium do,
//!   which the genesis ceremony already uses), so a file can be sealed to its owner's address or
//!   to any other, and opened with the keystore's key: no second key file for a user to lose.
//!   The `age` crate wants its own identity files and recipient strings.
//! - The primitives are the ones already in the build (`chacha20poly1305` through
//!   commonware-cryptography, `x25519-dalek`, `blake3`); `age` would add a large dependency
//!   tree for a format we use only with ourselves.
//! - Speed: one pass of ChaCha20-Poly1305 over 64 KiB chunks, the chunks of a batch on every
//!   core, with no copy beyond the batch buffers; `plexus bench storage` prints `seal_gbps`
//!   beside the put target.
//!
//! Format (all of it authenticated: a changed byte anywhere is refused):
//!
//! ```text
//! MAGIC (8) | ephemeral X25519 public key (32) | wrapped file key (32 + 16 tag)
//! chunk 0 | chunk 1 | ... | last chunk        each: ciphertext of <= 64 KiB + 16-byte tag
//! ```
//!
//! A random 32-byte file key is wrapped with ChaCha20-Poly1305 under
//! `BLAKE3-derive_key(WRAP_CONTEXT, X25519(ephemeral, recipient) | ephemeral | recipient)`;
//! the payload key is `BLAKE3-derive_key(PAYLOAD_CONTEXT, file key)`. Chunk `i` is sealed with
//! the nonce `i` (11 bytes, big-endian) followed by a flag byte, 1 on the last chunk and 0
//! before it (STREAM): a reordered chunk fails its tag, and a stream cut at a chunk boundary
//! ends on a chunk sealed as not last, so truncation is refused too. Every chunk but the last
//! is full; the last is empty only when the whole plaintext is.
//!
//! Streaming: [`seal`] and [`open`] hold two batches of 32 chunks (2 MiB) at a time whatever the
//! file's size, and seal or open a batch's chunks in parallel on a Commonware `Strategy` (each
//! chunk has its own nonce: the bytes are the same on any strategy). [`open`]
//! writes only chunks that passed their tag, but a truncation shows only at the end, so its
//! output is whole only when it returns `Ok`: a caller writes to a temporary file and renames it
//! on success (no partial plaintext is kept as if whole). No file I/O policy here: the caller
//! passes readers, writers and key material.

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};
use commonware_codec::Encode as _;
use commonware_cryptography::{Hasher as _, Sha512};
use commonware_parallel::Strategy;
use rand_core::CryptoRng;
use std::io::{self, Read, Write};
pub use x25519_dalek::{PublicKey, StaticSecret};

/// Plaintext bytes in every chunk but the last.
pub const CHUNK_PLAIN_BYTES: usize = 64 << 10;
/// Bytes of a chunk's authentication tag.
pub const TAG_BYTES: usize = 16;
/// Bytes of a full sealed chunk.
pub const CHUNK_SEALED_BYTES: usize = CHUNK_PLAIN_BYTES + TAG_BYTES;
/// Chunks read, sealed or opened (in parallel) and written together: 2 MiB of plaintext.
const BATCH_CHUNKS: usize = 32;
/// The format's first bytes.
pub const MAGIC: &[u8; 8] = b"plxseal1";
/// Bytes of the header: magic, ephemeral public key, wrapped file key.
pub const HEADER_BYTES: usize = MAGIC.len() + 32 + 32 + TAG_BYTES;

const WRAP_CONTEXT: &str = "plexus 2026-12 storage seal: file key wrap";
const PAYLOAD_CONTEXT: &str = "plexus 2026-12 storage seal: payload";

/// Why a file could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The input could not be read.
    #[error("reading: {0}")]
    Read(#[source] io::Error),
    /// The output could not be written.
    #[error("writing: {0}")]
    Write(#[source] io::Error),
    /// The recipient is a low-order point: no key agreement with it is secret.
    #[error("the recipient key is not a usable X25519 key")]
    Recipient,
    /// The input does not start with a sealed file's header.
    #[error("not a sealed file (no header)")]
    Header,
    /// The key does not open the file key (another recipient, or a damaged header).
    #[error("this key cannot open the file (sealed to another key, or its header is damaged)")]
    WrongKey,
    /// A chunk failed its tag: the file is truncated, its chunks reordered or its bytes changed.
    #[error("chunk {chunk} failed authentication: the file is truncated, reordered or tampered")]
    Corrupt {
        /// The chunk's index.
        chunk: u64,
    },
}

/// The X25519 secret of an ed25519 account key: the first half of RFC 8032's SHA-512
/// expansion of its seed (clamped by X25519 itself), the conversion libsodium and age use. With
/// [`x25519_public`] it lets an account key open what was sealed to its address, and lets the
/// genesis ceremony seal a share to a validator key.
pub fn x25519_secret(key: &plexus_types::PrivateKey) -> StaticSecret {
    let expanded = Sha512::hash(&[&key.encode()]);
    let mut scalar = [0u8; 32];
    scalar.copy_from_slice(&expanded.as_ref()[..32]);
    StaticSecret::from(scalar)
}

/// The X25519 public key of an ed25519 public key (its point's Montgomery form), or `None` if
/// the bytes are not a point. `x25519_public(&key.public_key())` is the public key of
/// `x25519_secret(&key)`.
pub fn x25519_public(key: &plexus_types::PublicKey) -> Option<PublicKey> {
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(key.as_ref());
    let point = curve25519_dalek::edwards::CompressedEdwardsY(bytes).decompress()?;
    Some(PublicKey::from(point.to_montgomery().to_bytes()))
}

/// The sealed length of a plaintext of `plain_len` bytes (what a deal stores).
pub fn sealed_len(plain_len: u64) -> u64 {
    let chunks = plain_len.div_ceil(CHUNK_PLAIN_BYTES as u64).max(1);
    HEADER_BYTES as u64 + plain_len + chunks * TAG_BYTES as u64
}

/// The nonce of chunk `index`: its big-endian counter, then the last-chunk flag.
fn chunk_nonce(index: u64, last: bool) -> Nonce {
    let mut nonce = [0u8; 12];
    nonce[3..11].copy_from_slice(&index.to_be_bytes());
    nonce[11] = u8::from(last);
    Nonce::from(nonce)
}

/// The key wrapping the file key, from the agreement and both public keys.
fn wrap_cipher(
    shared: &[u8; 32],
    ephemeral: &PublicKey,
    recipient: &PublicKey,
) -> ChaCha20Poly1305 {
    let mut material = [0u8; 96];
    material[..32].copy_from_slice(shared);
    material[32..64].copy_from_slice(ephemeral.as_bytes());
    material[64..].copy_from_slice(recipient.as_bytes());
    ChaCha20Poly1305::new(&Key::from(blake3::derive_key(WRAP_CONTEXT, &material)))
}

fn payload_cipher(file_key: &[u8; 32]) -> ChaCha20Poly1305 {
    ChaCha20Poly1305::new(&Key::from(blake3::derive_key(PAYLOAD_CONTEXT, file_key)))
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn fill(input: &mut impl Read, buf: &mut [u8]) -> Result<usize, SealError> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(SealError::Read(error)),
        }
    }
    Ok(filled)
}

/// Seals `input` to `recipient` into `output`; returns the sealed bytes written. `rng` draws the
/// file key and the ephemeral key; the chunks of each batch are sealed on `strategy`'s threads.
pub fn seal(
    recipient: &PublicKey,
    rng: &mut impl CryptoRng,
    mut input: impl Read,
    mut output: impl Write,
    strategy: &impl Strategy,
) -> Result<u64, SealError> {
    let ephemeral = StaticSecret::random_from_rng(rng);
    let ephemeral_public = PublicKey::from(&ephemeral);
    let shared = ephemeral.diffie_hellman(recipient);
    if !shared.was_contributory() {
        return Err(SealError::Recipient);
    }
    let mut file_key = [0u8; 32];
    rng.fill_bytes(&mut file_key);
    let mut wrapped = file_key;
    let tag = wrap_cipher(shared.as_bytes(), &ephemeral_public, recipient)
        .encrypt_inout_detached(&chunk_nonce(0, true), &[], (&mut wrapped[..]).into())
        .expect("32 bytes are within the cipher's limit");
    let mut header = Vec::with_capacity(HEADER_BYTES);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(ephemeral_public.as_bytes());
    header.extend_from_slice(&wrapped);
    header.extend_from_slice(&tag);
    output.write_all(&header).map_err(SealError::Write)?;

    let cipher = payload_cipher(&file_key);
    // Each chunk's plaintext is read into its sealed slot, sealed in place, its tag after it.
    let mut batch = vec![0u8; BATCH_CHUNKS * CHUNK_SEALED_BYTES];
    // A full batch's last chunk is the stream's last only if nothing follows: one chunk is
    // read ahead, and begins the next batch.
    let mut ahead = vec![0u8; CHUNK_PLAIN_BYTES];
    let mut ahead_len = None;
    let mut written = HEADER_BYTES as u64;
    let mut first = 0u64;
    loop {
        let mut lens = Vec::with_capacity(BATCH_CHUNKS);
        let mut ended = false;
        if let Some(len) = ahead_len.take() {
            batch[..len].copy_from_slice(&ahead[..len]);
            lens.push(len);
            ended = len < CHUNK_PLAIN_BYTES;
        }
        while !ended && lens.len() < BATCH_CHUNKS {
            let slot = lens.len() * CHUNK_SEALED_BYTES;
            let len = fill(&mut input, &mut batch[slot..slot + CHUNK_PLAIN_BYTES])?;
            // An empty chunk is sealed only for an empty plaintext.
            if len == 0 && (first > 0 || !lens.is_empty()) {
                ended = true;
                break;
            }
            lens.push(len);
            ended = len < CHUNK_PLAIN_BYTES;
        }
        if !ended {
            match fill(&mut input, &mut ahead)? {
                0 => ended = true,
                len => ahead_len = Some(len),
            }
        }
        let count = lens.len();
        let slots = batch.chunks_mut(CHUNK_SEALED_BYTES).zip(&lens).enumerate();
        strategy.map_collect_vec(slots, |(i, (slot, &len))| {
            let last = ended && i + 1 == count;
            let tag = cipher
                .encrypt_inout_detached(
                    &chunk_nonce(first + i as u64, last),
                    &[],
                    (&mut slot[..len]).into(),
                )
                .expect("a chunk is within the cipher's limit");
            slot[len..len + TAG_BYTES].copy_from_slice(&tag);
        });
        // Every chunk but the batch's last is full, so the sealed chunks are contiguous.
        let bytes = (count - 1) * CHUNK_SEALED_BYTES + lens[count - 1] + TAG_BYTES;
        output
            .write_all(&batch[..bytes])
            .map_err(SealError::Write)?;
        written += bytes as u64;
        first += count as u64;
        if ended {
            break;
        }
    }
    output.flush().map_err(SealError::Write)?;
    Ok(written)
}

/// Opens a sealed `input` with `identity` into `output`; returns the plaintext bytes written.
/// Only authenticated chunks are written, in order up to the first that fails, and the output
/// is whole only if this returns `Ok`. The chunks of each batch are opened on
/// `strategy`'s threads.
pub fn open(
    identity: &StaticSecret,
    mut input: impl Read,
    mut output: impl Write,
    strategy: &impl Strategy,
) -> Result<u64, SealError> {
    let mut header = [0u8; HEADER_BYTES];
    if fill(&mut input, &mut header)? < HEADER_BYTES || &header[..MAGIC.len()] != MAGIC {
        return Err(SealError::Header);
    }
    let ephemeral_public =
        PublicKey::from(<[u8; 32]>::try_from(&header[8..40]).expect("32 bytes of the header"));
    let mut file_key = <[u8; 32]>::try_from(&header[40..72]).expect("32 bytes of the header");
    let tag = Tag::try_from(&header[72..]).expect("16 bytes of the header");
    let shared = identity.diffie_hellman(&ephemeral_public);
    wrap_cipher(
        shared.as_bytes(),
        &ephemeral_public,
        &PublicKey::from(identity),
    )
    .decrypt_inout_detached(&chunk_nonce(0, true), &[], (&mut file_key[..]).into(), &tag)
    .map_err(|_| SealError::WrongKey)?;

    let cipher = payload_cipher(&file_key);
    let mut current = vec![0u8; BATCH_CHUNKS * CHUNK_SEALED_BYTES];
    let mut next = vec![0u8; BATCH_CHUNKS * CHUNK_SEALED_BYTES];
    let mut len = fill(&mut input, &mut current)?;
    let mut written = 0u64;
    let mut first = 0u64;
    loop {
        // A full batch is the last only if nothing follows it: read the next one ahead.
        let next_len = if len == current.len() {
            fill(&mut input, &mut next)?
        } else {
            0
        };
        let ended = next_len == 0;
        let count = len.div_ceil(CHUNK_SEALED_BYTES);
        if count == 0 {
            // No chunk at all: even an empty plaintext has one.
            return Err(SealError::Corrupt { chunk: first });
        }
        let chunks = current[..len].chunks_mut(CHUNK_SEALED_BYTES).enumerate();
        let opened = strategy.map_collect_vec(chunks, |(i, chunk)| {
            let index = first + i as u64;
            let last = ended && i + 1 == count;
            // A chunk shorter than its tag, or an empty last chunk after others, is never
            // sealed.
            let len = chunk.len();
            if len < TAG_BYTES || (last && len == TAG_BYTES && index > 0) {
                return Err(index);
            }
            let plain = len - TAG_BYTES;
            let tag = Tag::try_from(&chunk[plain..]).expect("16 bytes");
            cipher
                .decrypt_inout_detached(
                    &chunk_nonce(index, last),
                    &[],
                    (&mut chunk[..plain]).into(),
                    &tag,
                )
                .map(|()| plain)
                .map_err(|_| index)
        });
        // In order: the chunks before the first that failed are written, then the refusal.
        for (chunk, plain) in current[..len].chunks(CHUNK_SEALED_BYTES).zip(opened) {
            let plain = plain.map_err(|chunk| SealError::Corrupt { chunk })?;
            output
                .write_all(&chunk[..plain])
                .map_err(SealError::Write)?;
            written += plain as u64;
        }
        if ended {
            break;
        }
        first += count as u64;
        std::mem::swap(&mut current, &mut next);
        len = next_len;
    }
    output.flush().map_err(SealError::Write)?;
    Ok(written)
}

/// [`seal`] of a byte slice.
pub fn seal_bytes(
    recipient: &PublicKey,
    rng: &mut impl CryptoRng,
    plain: &[u8],
    strategy: &impl Strategy,
) -> Result<Vec<u8>, SealError> {
    let mut sealed = Vec::with_capacity(sealed_len(plain.len() as u64) as usize);
    seal(recipient, rng, plain, &mut sealed, strategy)?;
    Ok(sealed)
}

/// [`open`] of a byte slice: the whole plaintext, or nothing.
pub fn open_bytes(
    identity: &StaticSecret,
    sealed: &[u8],
    strategy: &impl Strategy,
) -> Result<Vec<u8>, SealError> {
    let mut plain = Vec::with_capacity(sealed.len().saturating_sub(HEADER_BYTES));
    open(identity, sealed, &mut plain, strategy)?;
    Ok(plain)
}

#[cfg(test)]
mod tests;
