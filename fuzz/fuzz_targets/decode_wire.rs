//! Untrusted bytes into every FuelTrace and receipt decoder a node meets outside a transaction
//! (the first byte picks the decoder): dissection moves and games, verdicts, commitments,
//! checkpoint manifests and receipts. Never a panic, and only canonical encodings.
#![no_main]

use commonware_codec::{Decode, DecodeExt, Encode};
use libfuzzer_sys::fuzz_target;
use plexus_fueltrace::dissection::{Dissection, Move};
use plexus_types::Receipt;
use plexus_types::audit::{Manifest, Verdict};
use plexus_types::job::Commitment;

fn canonical<T: Decode<Cfg = ()> + Encode>(data: &[u8]) {
    if let Ok(value) = T::decode(commonware_codec::Copying(data)) {
        assert_eq!(value.encode().as_ref(), data, "a non-canonical value decoded");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, data)) = data.split_first() else {
        return;
    };
    match which % 6 {
        0 => canonical::<Move>(data),
        1 => canonical::<Dissection>(data),
        2 => canonical::<Verdict>(data),
        3 => canonical::<Commitment>(data),
        4 => canonical::<Manifest>(data),
        _ => canonical::<Receipt>(data),
    }
});
