//! The canonical encoding of a whole `State`: what a node snapshots to disk so that a restart
//! replays only the blocks after the snapshot (and, later, what state sync ships).
//!
//! Snapshots are read back from the node's own storage. Collection lengths are bounded only by
//! `SNAPSHOT_ENTRIES_MAX`; bytes from a peer must be checked against a state root before use.

use crate::{Account, Params, State, Supply, Unbonding, Validator};
use bytes::BufMut;
use commonware_codec::{Buf, EncodeSize, Error, RangeCfg, Read, ReadExt, Write};
use plexus_types::{Address, Digest};

/// The most entries of one kind a snapshot may hold.
pub const SNAPSHOT_ENTRIES_MAX: usize = 1 << 32;

/// Format version, bumped whenever the encoding changes.
const SNAPSHOT_VERSION: u8 = 5;

macro_rules! fixed_record {
    ($ty:ty { $($field:ident : $kind:ty),* $(,)? }) => {
        impl Write for $ty {
            fn write(&self, buf: &mut impl BufMut) {
                $(self.$field.write(buf);)*
            }
        }

        impl EncodeSize for $ty {
            fn encode_size(&self) -> usize {
                0 $(+ self.$field.encode_size())*
            }
        }

        impl Read for $ty {
            type Cfg = ();

            fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
                Ok(Self { $($field: <$kind>::read(buf)?),* })
            }
        }
    };
}

fixed_record!(Account {
    balance: u128,
    nonce: u64,
    bonded: u128,
    unbonding: u128
});
fixed_record!(Validator {
    self_bond: u128,
    delegated: u128,
    jailed: bool
});
fixed_record!(Unbonding {
    owner: Address,
    amount: u128
});
fixed_record!(Supply {
    total: u128,
    minted: u128,
    burned: u128
});
fixed_record!(Params {
    fee_min: u128,
    self_bond_min: u128,
    unbonding_period_blocks: u64,
    epoch_length_blocks: u64,
    committee_size_max: u32,
    slash_bps: u32,
});

impl Write for State {
    fn write(&self, buf: &mut impl BufMut) {
        SNAPSHOT_VERSION.write(buf);
        self.chain_id.write(buf);
        self.params.write(buf);
        self.height.write(buf);
        self.block_hash.write(buf);
        self.timestamp_ms.write(buf);
        self.beacon.write(buf);
        self.beacon_key.write(buf);
        self.accounts.write(buf);
        self.validators.write(buf);
        self.delegations.write(buf);
        self.unbondings.write(buf);
        self.unbonding_seq.write(buf);
        self.committee.write(buf);
        self.next_committee.write(buf);
        self.dealer_logs.write(buf);
        self.epoch_committees.write(buf);
        self.epoch_boundary.write(buf);
        self.supply.write(buf);
        self.slashes.write(buf);
        self.recent_blocks.write(buf);
        self.participation.write(buf);
    }
}

impl EncodeSize for State {
    fn encode_size(&self) -> usize {
        SNAPSHOT_VERSION.encode_size()
            + self.chain_id.encode_size()
            + self.params.encode_size()
            + self.height.encode_size()
            + self.block_hash.encode_size()
            + self.timestamp_ms.encode_size()
            + self.beacon.encode_size()
            + self.beacon_key.encode_size()
            + self.accounts.encode_size()
            + self.validators.encode_size()
            + self.delegations.encode_size()
            + self.unbondings.encode_size()
            + self.unbonding_seq.encode_size()
            + self.committee.encode_size()
            + self.next_committee.encode_size()
            + self.dealer_logs.encode_size()
            + self.epoch_committees.encode_size()
            + self.epoch_boundary.encode_size()
            + self.supply.encode_size()
            + self.slashes.encode_size()
            + self.recent_blocks.encode_size()
            + self.participation.encode_size()
    }
}

impl Read for State {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        let version = u8::read(buf)?;
        if version != SNAPSHOT_VERSION {
            return Err(Error::Invalid("State", "unknown snapshot version"));
        }
        let entries = || -> RangeCfg<usize> { (..=SNAPSHOT_ENTRIES_MAX).into() };
        let mut state = State {
            chain_id: u64::read(buf)?,
            params: Params::read(buf)?,
            height: u64::read(buf)?,
            block_hash: Digest::read(buf)?,
            timestamp_ms: u64::read(buf)?,
            beacon: Digest::read(buf)?,
            beacon_key: Read::read_cfg(buf, &plexus_types::beacon::sharing_cfg())?,
            accounts: Read::read_cfg(buf, &(entries(), ((), ())))?,
            validators: Read::read_cfg(buf, &(entries(), ((), ())))?,
            delegations: Read::read_cfg(buf, &(entries(), (((), ()), ())))?,
            unbondings: Read::read_cfg(buf, &(entries(), (((), ()), ())))?,
            unbonding_seq: u64::read(buf)?,
            committee: Read::read_cfg(buf, &(entries(), ()))?,
            next_committee: Read::read_cfg(buf, &(entries(), ()))?,
            dealer_logs: Read::read_cfg(buf, &(entries(), ((), (entries(), ()))))?,
            epoch_committees: Read::read_cfg(buf, &(entries(), ((), (entries(), ()))))?,
            epoch_boundary: Digest::read(buf)?,
            supply: Supply::read(buf)?,
            slashes: Read::read_cfg(buf, &(entries(), (((), (), ()), ())))?,
            recent_blocks: Read::read_cfg(buf, &(entries(), ((), ((), ()))))?,
            participation: Read::read_cfg(buf, &(entries(), (((), ()), ())))?,
            unbonding_counts: Default::default(),
        };
        // Derived data is rebuilt, not stored.
        for entry in state.unbondings.values() {
            *state
                .unbonding_counts
                .entry(entry.owner.clone())
                .or_default() += 1;
        }
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Genesis, GenesisValidator, Params, State, build_block};
    use commonware_codec::{DecodeExt, Encode};
    use commonware_cryptography::Signer;
    use plexus_types::{Address, PLX, Payload, PrivateKey, Transaction};

    #[test]
    fn round_trips_every_collection() {
        let key = |i: u64| PrivateKey::from_seed(i);
        let address = |i: u64| Address(key(i).public_key());
        let (state, _) = Genesis {
            chain_id: 5,
            timestamp_ms: 1,
            params: Params::default(),
            allocations: (0..3).map(|i| (address(i), 100_000 * PLX)).collect(),
            validators: vec![GenesisValidator {
                address: address(0),
                self_bond: 10_000 * PLX,
            }],
            beacon: crate::beacon::DevBeacon::deal(0, [key(0).public_key()]).output,
        }
        .build()
        .unwrap();
        let tx = |from: u64, nonce: u64, payload| {
            Transaction {
                chain_id: 5,
                sender: address(from),
                nonce,
                fee: 1_000,
                payload,
            }
            .sign(&key(from))
        };
        let txs = vec![
            tx(
                1,
                0,
                Payload::Delegate {
                    validator: address(0),
                    amount: 5 * PLX,
                },
            ),
            tx(
                1,
                1,
                Payload::Undelegate {
                    validator: address(0),
                    amount: PLX,
                },
            ),
            tx(
                2,
                0,
                Payload::Transfer {
                    to: address(9),
                    amount: 7,
                },
            ),
        ];
        let built = build_block(&state, txs, 2, key(0).public_key(), None).unwrap();
        let state = built.state;
        assert!(!state.delegations.is_empty() && !state.unbondings.is_empty());
        let bytes = state.encode();
        let decoded = State::decode(bytes.clone()).unwrap();
        assert_eq!(decoded, state);
        assert_eq!(decoded.root(), state.root());
        let mut wrong_version = bytes.to_vec();
        wrong_version[0] = 99;
        assert!(State::decode(commonware_codec::Copying(&wrong_version[..])).is_err());
        assert!(State::decode(commonware_codec::Copying(&bytes[..bytes.len() - 1])).is_err());
    }
}
