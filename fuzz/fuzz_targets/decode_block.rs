//! Untrusted bytes into the block decoder: never a panic, and only canonical encodings.
#![no_main]

use commonware_codec::{Decode, Encode};
use libfuzzer_sys::fuzz_target;
use plexus_types::{BLOCK_TXS_MAX, Block};

fuzz_target!(|data: &[u8]| {
    if let Ok(block) = Block::decode_cfg(commonware_codec::Copying(data), &BLOCK_TXS_MAX) {
        assert_eq!(block.encode().as_ref(), data, "a non-canonical block decoded");
        let _ = block.tx_root_matches();
    }
});
