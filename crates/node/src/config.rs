//! The genesis file: JSON at the boundary, turned into `plexus_state::Genesis`.

use commonware_codec::{Decode, Encode};
use commonware_cryptography::bls12381::primitives::group::Share;
use plexus_state::{Genesis, GenesisValidator, Params};
use plexus_types::{Address, BeaconOutput, amount::parse_amount, beacon};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct GenesisFile {
    pub chain_id: u64,
    pub timestamp_ms: u64,
    pub params: ParamsFile,
    pub allocations: Vec<AllocationFile>,
    pub validators: Vec<ValidatorFile>,
    /// The genesis committee's beacon key: the public side of the shares `plexus genesis`
    /// dealt (hex of its canonical encoding).
    pub beacon_key: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ParamsFile {
    pub fee_min: String,
    pub self_bond_min: String,
    pub unbonding_period_blocks: u64,
    pub epoch_length_blocks: u64,
    pub committee_size_max: u32,
    /// Share of an equivocator's stake burned, in basis points (absent in older files: 500).
    #[serde(default = "default_slash_bps")]
    pub slash_bps: u32,
}

fn default_slash_bps() -> u32 {
    Params::default().slash_bps
}

impl Default for ParamsFile {
    fn default() -> Self {
        let p = Params::default();
        ParamsFile {
            fee_min: p.fee_min.to_string(),
            self_bond_min: p.self_bond_min.to_string(),
            unbonding_period_blocks: p.unbonding_period_blocks,
            epoch_length_blocks: p.epoch_length_blocks,
            committee_size_max: p.committee_size_max,
            slash_bps: p.slash_bps,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AllocationFile {
    pub address: String,
    pub amount: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ValidatorFile {
    pub address: String,
    pub self_bond: String,
}

/// A genesis file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum GenesisFileError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a genesis file: {source}")]
    Json {
        path: String,
        source: serde_json::Error,
    },
    #[error("{field}: {message}")]
    Field { field: String, message: String },
}

fn decode_hex<T: Decode>(field: &str, text: &str, cfg: &T::Cfg) -> Result<T, GenesisFileError> {
    let bytes = plexus_client::hex_decode(text.trim()).ok_or_else(|| GenesisFileError::Field {
        field: field.into(),
        message: "not hex".into(),
    })?;
    T::decode_cfg(commonware_codec::Copying(&bytes[..]), cfg).map_err(|e| GenesisFileError::Field {
        field: field.into(),
        message: e.to_string(),
    })
}

/// The hex form of a beacon key (the dealing's public output), as genesis files hold it.
pub fn beacon_key_hex(output: &BeaconOutput) -> String {
    plexus_client::hex_encode(&output.encode())
}

/// The hex form of a beacon share, as share files hold it (secret: one per validator).
pub fn share_hex(share: &Share) -> String {
    plexus_client::hex_encode(&share.encode())
}

/// Parses a share file's contents.
pub fn share_from_hex(text: &str) -> Result<Share, GenesisFileError> {
    decode_hex("beacon share", text, &())
}

fn amount(field: &str, text: &str) -> Result<u128, GenesisFileError> {
    parse_amount(text).map_err(|e| GenesisFileError::Field {
        field: field.into(),
        message: e.to_string(),
    })
}

fn address(field: &str, text: &str) -> Result<Address, GenesisFileError> {
    text.parse()
        .map_err(|e: plexus_types::AddressError| GenesisFileError::Field {
            field: field.into(),
            message: e.to_string(),
        })
}

impl GenesisFile {
    pub fn load(path: &Path) -> Result<Self, GenesisFileError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| GenesisFileError::Io {
            path: shown.clone(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| GenesisFileError::Json {
            path: shown,
            source,
        })
    }

    pub fn save(&self, path: &Path) -> Result<(), GenesisFileError> {
        let text = serde_json::to_string_pretty(self).expect("a genesis file always serializes");
        std::fs::write(path, text + "\n").map_err(|source| GenesisFileError::Io {
            path: path.display().to_string(),
            source,
        })
    }

    pub fn to_genesis(&self) -> Result<Genesis, GenesisFileError> {
        let params = Params {
            fee_min: amount("params.fee_min", &self.params.fee_min)?,
            self_bond_min: amount("params.self_bond_min", &self.params.self_bond_min)?,
            unbonding_period_blocks: self.params.unbonding_period_blocks,
            epoch_length_blocks: self.params.epoch_length_blocks,
            committee_size_max: self.params.committee_size_max,
            slash_bps: self.params.slash_bps.min(10_000),
        };
        let allocations = self
            .allocations
            .iter()
            .map(|a| {
                Ok((
                    address("allocations.address", &a.address)?,
                    amount("allocations.amount", &a.amount)?,
                ))
            })
            .collect::<Result<_, GenesisFileError>>()?;
        let validators = self
            .validators
            .iter()
            .map(|v| {
                Ok(GenesisValidator {
                    address: address("validators.address", &v.address)?,
                    self_bond: amount("validators.self_bond", &v.self_bond)?,
                })
            })
            .collect::<Result<_, GenesisFileError>>()?;
        Ok(Genesis {
            chain_id: self.chain_id,
            timestamp_ms: self.timestamp_ms,
            params,
            allocations,
            validators,
            beacon: decode_hex("beacon_key", &self.beacon_key, &beacon::sharing_cfg())?,
        })
    }
}
