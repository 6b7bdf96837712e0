//! Untrusted bytes into the transaction decoder: never a panic, and only canonical encodings.
#![no_main]

use commonware_codec::Encode;
use libfuzzer_sys::fuzz_target;
use plexus_types::SignedTransaction;

fuzz_target!(|data: &[u8]| {
    if let Ok(tx) = SignedTransaction::decode_untrusted(data) {
        assert_eq!(tx.encode().as_ref(), data, "a non-canonical transaction decoded");
        let _ = tx.verify_signature();
    }
});
