//! Untrusted bytes into the snapshot decoder (state sync will feed it bytes from a peer): never a
//! panic, and whatever decodes round-trips.
#![no_main]

use commonware_codec::{DecodeExt, Encode};
use libfuzzer_sys::fuzz_target;
use plexus_state::State;

fuzz_target!(|data: &[u8]| {
    if let Ok(state) = State::decode(commonware_codec::Copying(data)) {
        let again = State::decode(state.encode()).expect("a decoded snapshot decodes again");
        assert_eq!(again, state, "a decoded snapshot does not round-trip");
    }
});
