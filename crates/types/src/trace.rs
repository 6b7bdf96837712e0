//! FuelTrace commitments: page hashes, state roots, trace leaves and the trace root (BLAKE3).
//!
//! A job's state between two `step` calls is its linear memory (64 KiB pages), its mutable globals
//! and the fuel consumed so far. This module defines, once and for everyone (provider, verifier,
//! the chain's dispute code), how that state is committed:
//!
//! - `page_hash(bytes) = H("plexus/page" | bytes)`. A page's position is bound by the memory root
//!   (a BMT commits to each leaf's position), not by its hash, so identical pages (the zero pages
//!   of a large memory, above all) share one hash and are stored once.
//! - `memory_root` is a Commonware BMT (BLAKE3) over the page hashes; the BMT root commits to the
//!   page count, so memory size is part of the state.
//! - `globals_hash` hashes the mutable globals, each with a type tag, in global-index order.
//! - `state_root = H("plexus/state" | memory_root | globals_hash)`.
//! - `leaf(i, fuel, state_root) = H("plexus/leaf" | i LE64 | fuel LE64 | state_root)`; a trap ends
//!   the trace with a leaf whose state root is `trap_root(code) = H("plexus/trap" | code)`.
//! - `trace_root` is a BMT (BLAKE3) over the leaves; `prove_leaf` / `verify_leaf` open one leaf.
//!
//! Every value here is a [`ContentHash`]. `H` is plain BLAKE3 ([`ContentHash::of_parts`]) and a
//! content hash proper (modules, blobs, inputs, outputs) is [`ContentHash::of`] the bytes with no
//! prefix, so `b3sum FILE` prints the same hash. The domain prefixes keep the structured
//! hashes apart from content hashes and from each other. Known-answer tests pin every definition:
//! changing one changes every commitment ever posted, so it is a deliberate, reviewed act.
//!
//! Pure: no I/O, no clock, no floats (floating-point globals are hashed as their raw bits).

use crate::hash::{ContentHash, ContentHasher};
use commonware_storage::bmt;

/// An inclusion proof of one leaf in a trace root (encodable with the codec; decode with
/// `decode_cfg(bytes, &1)`: the configuration is the number of proven leaves).
pub type LeafProof = bmt::Proof<ContentHash>;

/// Bytes in one memory page (the WebAssembly page size).
pub const PAGE_BYTES: usize = 65_536;

const PAGE_DOMAIN: &[u8] = b"plexus/page";
const GLOBALS_DOMAIN: &[u8] = b"plexus/globals";
const STATE_DOMAIN: &[u8] = b"plexus/state";
const LEAF_DOMAIN: &[u8] = b"plexus/leaf";
const TRAP_DOMAIN: &[u8] = b"plexus/trap";

/// The hash of a memory page holding `bytes` (normally `PAGE_BYTES` long). Position-free:
/// [`memory_root`] binds each page to its index.
pub fn page_hash(bytes: &[u8]) -> ContentHash {
    ContentHash::of_parts(&[PAGE_DOMAIN, bytes])
}

/// The root of the memory: a BMT over the page hashes in page order (commits to the page count).
pub fn memory_root(page_hashes: &[ContentHash]) -> ContentHash {
    bmt_root(page_hashes)
}

/// The value of one mutable global, as stored between steps. Floats are their IEEE-754 bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GlobalValue {
    /// An `i32` global.
    I32(i32),
    /// An `i64` global.
    I64(i64),
    /// An `f32` global, as bits.
    F32(u32),
    /// An `f64` global, as bits.
    F64(u64),
    /// A `v128` global, as a little-endian 128-bit integer.
    V128(u128),
}

impl GlobalValue {
    /// The type tag used in `globals_hash`.
    pub const fn tag(&self) -> u8 {
        match self {
            Self::I32(_) => 0,
            Self::I64(_) => 1,
            Self::F32(_) => 2,
            Self::F64(_) => 3,
            Self::V128(_) => 4,
        }
    }

    /// Appends `tag | value LE` to `out`.
    fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(self.tag());
        match self {
            Self::I32(value) => out.extend_from_slice(&value.to_le_bytes()),
            Self::I64(value) => out.extend_from_slice(&value.to_le_bytes()),
            Self::F32(bits) => out.extend_from_slice(&bits.to_le_bytes()),
            Self::F64(bits) => out.extend_from_slice(&bits.to_le_bytes()),
            Self::V128(bits) => out.extend_from_slice(&bits.to_le_bytes()),
        }
    }
}

/// The hash of the mutable globals in global-index order:
/// `H("plexus/globals" | count LE32 | (tag | value LE)*)`.
pub fn globals_hash(values: &[GlobalValue]) -> ContentHash {
    // Widest value is 1 + 16 bytes; the encoding is unambiguous because each tag fixes the width.
    let mut encoded = Vec::with_capacity(4 + values.len() * 17);
    let count = u32::try_from(values.len()).unwrap_or(u32::MAX);
    encoded.extend_from_slice(&count.to_le_bytes());
    for value in values {
        value.encode_into(&mut encoded);
    }
    ContentHash::of_parts(&[GLOBALS_DOMAIN, &encoded])
}

/// The root of a whole job state: `H("plexus/state" | memory_root | globals_hash)`.
pub fn state_root(memory_root: &ContentHash, globals_hash: &ContentHash) -> ContentHash {
    ContentHash::of_parts(&[STATE_DOMAIN, memory_root.as_ref(), globals_hash.as_ref()])
}

/// The state root of a trap leaf: `H("plexus/trap" | code)`. Also the output hash of a job that
/// ended in that trap.
pub fn trap_root(code: u8) -> ContentHash {
    ContentHash::of_parts(&[TRAP_DOMAIN, &[code]])
}

/// Leaf `i` of a trace: `H("plexus/leaf" | i LE64 | fuel LE64 | state_root)`, where `fuel` is the
/// cumulative fuel at checkpoint `i`.
pub fn leaf(i: u64, fuel: u64, state_root: &ContentHash) -> ContentHash {
    ContentHash::of_parts(&[
        LEAF_DOMAIN,
        &i.to_le_bytes(),
        &fuel.to_le_bytes(),
        state_root.as_ref(),
    ])
}

/// The trace root: a BMT over the leaves in order (commits to their count).
pub fn trace_root(leaves: &[ContentHash]) -> ContentHash {
    bmt_root(leaves)
}

/// Why a leaf proof could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The index is not a leaf of the trace.
    #[error("leaf {index} is out of range (the trace has {count} leaves)")]
    OutOfRange {
        /// The requested leaf.
        index: u64,
        /// How many leaves the trace has.
        count: usize,
    },
}

/// The inclusion proof of leaf `index` in `trace_root(leaves)`.
pub fn prove_leaf(leaves: &[ContentHash], index: u64) -> Result<LeafProof, ProofError> {
    let out_of_range = ProofError::OutOfRange {
        index,
        count: leaves.len(),
    };
    let position = u32::try_from(index).map_err(|_| out_of_range.clone())?;
    if index >= leaves.len() as u64 {
        return Err(out_of_range);
    }
    bmt_tree(leaves).proof(position).map_err(|_| out_of_range)
}

/// Whether `proof` shows that `leaf` is leaf `index` of the trace with root `root`.
pub fn verify_leaf(root: &ContentHash, index: u64, leaf: &ContentHash, proof: &LeafProof) -> bool {
    let Ok(position) = u32::try_from(index) else {
        return false;
    };
    proof
        .verify_element_inclusion::<ContentHasher>(leaf, position, root)
        .is_ok()
}

fn bmt_tree(items: &[ContentHash]) -> bmt::Tree<ContentHash> {
    let mut builder = bmt::Builder::<ContentHasher>::new(items.len());
    for item in items {
        builder.add(item);
    }
    builder.build()
}

fn bmt_root(items: &[ContentHash]) -> ContentHash {
    bmt_tree(items).root()
}

/// Why a job stopped early. The code (`as u8`) is committed in the trap leaf and the output hash,
/// so the numbering is frozen. A trap while `init` or `step` runs bills `max_fuel`; the output
/// record codes bill the fuel used, `WallTime` the calls that completed (`plexus_exec::run`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum TrapCode {
    /// The job's fuel ran out (in guest code or when paying for a host call).
    OutOfFuel = 1,
    /// A load or store outside linear memory.
    MemoryOutOfBounds = 2,
    /// An `unreachable` instruction.
    Unreachable = 3,
    /// The wasm call stack was exhausted.
    StackOverflow = 4,
    /// Integer division by zero or overflow (`i32::MIN / -1`), or a float-to-int conversion out
    /// of range (wasmtime reports it as an integer overflow).
    IntegerDivision = 5,
    /// A host call with bad arguments (out-of-bounds range, negative dimension).
    BadHostCall = 6,
    /// The output record names more than `OUTPUT_BYTES_MAX` bytes.
    OutputTooLarge = 7,
    /// The output record, or the bytes it names, lie outside memory.
    OutputOutOfBounds = 8,
    /// The provider's wall-clock backstop fired (not reproducible: the provider commits it as a
    /// refusal, never grounds for a slash).
    WallTime = 9,
    /// Any other trap (an indirect call to an empty slot, past the table or of another type, a
    /// NaN converted to an integer, ...).
    Other = 10,
}

impl TrapCode {
    /// Every code, in numeric order.
    pub const ALL: [TrapCode; 10] = [
        Self::OutOfFuel,
        Self::MemoryOutOfBounds,
        Self::Unreachable,
        Self::StackOverflow,
        Self::IntegerDivision,
        Self::BadHostCall,
        Self::OutputTooLarge,
        Self::OutputOutOfBounds,
        Self::WallTime,
        Self::Other,
    ];

    /// The code's byte.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The code for a byte, if it is one.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|trap| trap.code() == code)
    }

    /// A stable snake_case name (logs, JSON).
    pub const fn name(self) -> &'static str {
        match self {
            Self::OutOfFuel => "out_of_fuel",
            Self::MemoryOutOfBounds => "memory_out_of_bounds",
            Self::Unreachable => "unreachable",
            Self::StackOverflow => "stack_overflow",
            Self::IntegerDivision => "integer_division",
            Self::BadHostCall => "bad_host_call",
            Self::OutputTooLarge => "output_too_large",
            Self::OutputOutOfBounds => "output_out_of_bounds",
            Self::WallTime => "wall_time",
            Self::Other => "other",
        }
    }
}

impl core::fmt::Display for TrapCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{Decode as _, Encode as _};

    fn hex(hash: &ContentHash) -> String {
        hash.to_hex()
    }

    fn sample_leaves(count: u64) -> Vec<ContentHash> {
        (0..count)
            .map(|i| {
                let page = page_hash(&[i as u8; 16]);
                let root = state_root(&memory_root(&[page]), &globals_hash(&[]));
                leaf(i, i * 1000, &root)
            })
            .collect()
    }

    /// Pins the definitions: if one of these changes, every commitment ever posted changes.
    #[test]
    fn known_answers() {
        let zero_page = vec![0u8; PAGE_BYTES];
        let cases = [
            ("content", hex(&ContentHash::of(b"plexus"))),
            ("page", hex(&page_hash(&zero_page))),
            (
                "memory",
                hex(&memory_root(&[
                    page_hash(&zero_page),
                    page_hash(&zero_page),
                ])),
            ),
            (
                "globals",
                hex(&globals_hash(&[
                    GlobalValue::I32(-1),
                    GlobalValue::I64(7),
                    GlobalValue::F32(0x7fc0_0000),
                    GlobalValue::F64(1),
                    GlobalValue::V128(u128::MAX),
                ])),
            ),
            (
                "state",
                hex(&state_root(&ContentHash::of(b"m"), &ContentHash::of(b"g"))),
            ),
            ("leaf", hex(&leaf(5, 1 << 40, &ContentHash::of(b"s")))),
            ("trap", hex(&trap_root(TrapCode::OutOfFuel.code()))),
            ("trace", hex(&trace_root(&sample_leaves(3)))),
        ];
        for (name, hex) in &cases {
            println!("{name}: {hex}");
        }
        let got: Vec<&str> = cases.iter().map(|(_, hex)| hex.as_str()).collect();
        assert_eq!(got, KNOWN_ANSWERS);
    }

    /// content, page, memory, globals, state, leaf, trap, trace (in the order of `known_answers`).
    const KNOWN_ANSWERS: [&str; 8] = [
        "71657cedd7d682383e81d5bffb0d55ed3cd19569d08d95d5465c93789c92a27a",
        "023469658920eb6a3d1a08bf848d5780d5e488cd688814da26acb4f52e0e004d",
        "6fd5f1c12f681706cc4994014a004585ab7db17c7f3d2f874f01dd27404fa1a7",
        "0202b997198d5793621bae0b430a42616c75c1b99c7fa9dee0f61aa238d104a9",
        "8f275ea46500ad20e5ccdf5f58ad7b402246a6a907a630bc75247caadf617959",
        "cf5dcbdab444e251432a72539f37874ea3d8085d7b6562abd93267b1a1d6f73c",
        "fa1e02af261bc260b1ee263819577b0088098fb6f24e98ad7deb1f1f71d00fc5",
        "5c92dde46e349990e220b58a1a60e0ecba5e2b9c7187b33900c8c3cc98bb1965",
    ];

    #[test]
    fn definitions_separate_their_inputs() {
        let page = vec![1u8; PAGE_BYTES];
        // Position lives in the memory root, not in the page hash.
        let zero = vec![0u8; PAGE_BYTES];
        assert_ne!(page_hash(&page), page_hash(&zero));
        assert_ne!(
            memory_root(&[page_hash(&page), page_hash(&zero)]),
            memory_root(&[page_hash(&zero), page_hash(&page)])
        );
        assert_ne!(
            globals_hash(&[GlobalValue::I32(1)]),
            globals_hash(&[GlobalValue::F32(1)])
        );
        assert_ne!(globals_hash(&[]), globals_hash(&[GlobalValue::I32(0)]));
        let root = ContentHash::of(b"root");
        assert_ne!(leaf(1, 2, &root), leaf(2, 1, &root));
        assert_ne!(trap_root(1), trap_root(2));
        // The memory root commits to the page count: a trailing page changes it.
        let one = page_hash(&page);
        assert_ne!(memory_root(&[one]), memory_root(&[one, page_hash(&page)]));
    }

    #[test]
    fn proofs_round_trip_and_reject_forgeries() {
        for count in [1u64, 2, 3, 7, 16, 33] {
            let leaves = sample_leaves(count);
            let root = trace_root(&leaves);
            for i in 0..count {
                let proof = prove_leaf(&leaves, i).unwrap();
                assert!(verify_leaf(&root, i, &leaves[i as usize], &proof));
                // The proof survives the codec.
                let decoded = LeafProof::decode_cfg(proof.encode(), &1).unwrap();
                assert_eq!(decoded, proof);
                assert!(verify_leaf(&root, i, &leaves[i as usize], &decoded));
                // A different leaf, index, root or sibling fails.
                let forged_leaf = ContentHash::of(b"forged");
                assert!(!verify_leaf(&root, i, &forged_leaf, &proof));
                if count > 1 {
                    let other = (i + 1) % count;
                    assert!(!verify_leaf(&root, other, &leaves[i as usize], &proof));
                }
                assert!(!verify_leaf(
                    &ContentHash::of(b"root"),
                    i,
                    &leaves[i as usize],
                    &proof
                ));
                if let Some(first) = proof.siblings.first() {
                    let mut tampered = proof.clone();
                    tampered.siblings[0] = ContentHash::of(first.as_ref());
                    assert!(!verify_leaf(&root, i, &leaves[i as usize], &tampered));
                }
                let mut recounted = proof.clone();
                recounted.leaf_count += 1;
                assert!(!verify_leaf(&root, i, &leaves[i as usize], &recounted));
            }
            assert_eq!(
                prove_leaf(&leaves, count),
                Err(ProofError::OutOfRange {
                    index: count,
                    count: count as usize
                })
            );
            assert!(!verify_leaf(
                &root,
                u64::MAX,
                &leaves[0],
                &prove_leaf(&leaves, 0).unwrap()
            ));
        }
    }

    #[test]
    fn trap_codes_round_trip() {
        for trap in TrapCode::ALL {
            assert_eq!(TrapCode::from_code(trap.code()), Some(trap));
        }
        assert_eq!(TrapCode::from_code(0), None);
        assert_eq!(TrapCode::from_code(11), None);
        assert_eq!(TrapCode::OutOfFuel.to_string(), "out_of_fuel");
    }
}
