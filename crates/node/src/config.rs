//! The genesis file: JSON at the boundary, turned into `plexus_state::Genesis`.

use commonware_codec::{Decode, Encode};
use commonware_cryptography::bls12381::primitives::group::Share;
use plexus_state::{Genesis, GenesisValidator, Params, StorageParams};
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
    /// The highest commission a validator may set, in basis points (absent in older files:
    /// 5 000).
    #[serde(default = "default_commission_max_bps")]
    pub commission_max_bps: u32,
    /// A new validator's commission, in basis points (absent in older files: 1 000).
    #[serde(default = "default_commission_default_bps")]
    pub commission_default_bps: u32,
    /// The fewest epochs between two commission changes of a validator (absent in older
    /// files: 1).
    #[serde(default = "default_commission_change_epochs_min")]
    pub commission_change_epochs_min: u64,
    /// Governance (absent in older files: the defaults): blocks a proposal is open for votes,
    /// quorum, pass threshold and veto share in basis points, the smallest deposit (base units)
    /// and the blocks between a pass and its changes.
    #[serde(default = "default_gov_voting_period_blocks")]
    pub gov_voting_period_blocks: u64,
    #[serde(default = "default_gov_quorum_bps")]
    pub gov_quorum_bps: u32,
    #[serde(default = "default_gov_threshold_bps")]
    pub gov_threshold_bps: u32,
    #[serde(default = "default_gov_veto_bps")]
    pub gov_veto_bps: u32,
    #[serde(default = "default_gov_deposit_min")]
    pub gov_deposit_min: String,
    #[serde(default = "default_gov_effect_delay_blocks")]
    pub gov_effect_delay_blocks: u64,
    /// The compute market's parameters (absent in older files: the defaults).
    #[serde(default = "default_provider_bond_min")]
    pub provider_bond_min: String,
    #[serde(default = "default_provider_unbonding_blocks")]
    pub provider_unbonding_blocks: u64,
    #[serde(default = "default_heartbeat_interval_blocks")]
    pub heartbeat_interval_blocks: u64,
    #[serde(default = "default_heartbeat_missed_max")]
    pub heartbeat_missed_max: u64,
    #[serde(default = "default_settlement_window_blocks")]
    pub settlement_window_blocks: u64,
    #[serde(default = "default_job_deadline_max_blocks")]
    pub job_deadline_max_blocks: u64,
    #[serde(default = "default_job_deadline_min_blocks")]
    pub job_deadline_min_blocks: u64,
    #[serde(default = "default_job_retention_blocks")]
    pub job_retention_blocks: u64,
    #[serde(default = "default_bond_lock_multiple")]
    pub bond_lock_multiple: u32,
    /// Share of a job's bond lock burned when its provider misses the deadline, in basis points.
    #[serde(default = "default_deadline_slash_bps")]
    pub deadline_slash_bps: u32,
    #[serde(default = "default_reputation_done_gain")]
    pub reputation_done_gain: u32,
    #[serde(default = "default_reputation_miss_penalty")]
    pub reputation_miss_penalty: u32,
    /// FuelTrace's audit, dispute and reward parameters (absent in older files, or any field of
    /// it: the defaults).
    #[serde(default)]
    pub audit: AuditFile,
    /// The storage market's parameters (absent in older files, or any field of it: the
    /// defaults).
    #[serde(default)]
    pub storage: StorageFile,
}

/// `plexus_state::StorageParams` in the genesis file (amounts as decimal base units); what each
/// field means, and its unit, is documented on `plexus_storage::params::StorageParams`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct StorageFile {
    pub k: u32,
    pub n: u32,
    pub deal_epochs_min: u64,
    pub deal_epochs_max: u64,
    pub accept_window_blocks: u64,
    pub proof_window_blocks: u64,
    pub miss_burn_multiple: u32,
    pub misses_before_lost: u32,
    pub fault_excuse_epochs_max: u64,
    pub repair_deadline_epochs: u64,
    pub collateral_epochs: u32,
    pub collateral_min_per_shard: String,
    pub challenges_per_block_max: u32,
    pub emission_bps: u32,
}

impl Default for StorageFile {
    fn default() -> Self {
        StorageFile::from_params(&StorageParams::default())
    }
}

impl StorageFile {
    /// The file form of `p`.
    pub fn from_params(p: &StorageParams) -> StorageFile {
        StorageFile {
            k: p.k,
            n: p.n,
            deal_epochs_min: p.deal_epochs_min,
            deal_epochs_max: p.deal_epochs_max,
            accept_window_blocks: p.accept_window_blocks,
            proof_window_blocks: p.proof_window_blocks,
            miss_burn_multiple: p.miss_burn_multiple,
            misses_before_lost: p.misses_before_lost,
            fault_excuse_epochs_max: p.fault_excuse_epochs_max,
            repair_deadline_epochs: p.repair_deadline_epochs,
            collateral_epochs: p.collateral_epochs,
            collateral_min_per_shard: p.collateral_min_per_shard.to_string(),
            challenges_per_block_max: p.challenges_per_block_max,
            emission_bps: p.emission_bps,
        }
    }

    fn to_params(&self) -> Result<StorageParams, GenesisFileError> {
        let params = StorageParams {
            k: self.k,
            n: self.n,
            deal_epochs_min: self.deal_epochs_min,
            deal_epochs_max: self.deal_epochs_max,
            accept_window_blocks: self.accept_window_blocks,
            proof_window_blocks: self.proof_window_blocks,
            miss_burn_multiple: self.miss_burn_multiple,
            misses_before_lost: self.misses_before_lost,
            fault_excuse_epochs_max: self.fault_excuse_epochs_max,
            repair_deadline_epochs: self.repair_deadline_epochs,
            collateral_epochs: self.collateral_epochs,
            collateral_min_per_shard: amount(
                "params.storage.collateral_min_per_shard",
                &self.collateral_min_per_shard,
            )?,
            challenges_per_block_max: self.challenges_per_block_max,
            emission_bps: self.emission_bps,
        };
        params.check().map_err(|message| GenesisFileError::Field {
            field: "params.storage".into(),
            message: message.into(),
        })?;
        Ok(params)
    }
}

/// `plexus_state::audit::AuditParams` in the genesis file (amounts as decimal base units).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct AuditFile {
    pub seg_fuel: u64,
    pub light_audit_ppm: u32,
    pub full_audit_ppm: u32,
    pub light_audit_segments: u32,
    pub dissection_arity: u32,
    pub response_blocks: u64,
    pub slash_multiple: u32,
    pub winner_share_bps: u32,
    pub canary_ppm: u32,
    pub verifier_slash_multiple: u32,
    pub verifier_bond_min: String,
    pub audit_fee_bps: u32,
    pub payment_burn_bps: u32,
    pub emission_per_epoch: String,
    pub emission_halving_epochs: u64,
    pub emission_validators_bps: u32,
    pub emission_providers_bps: u32,
    pub audit_block_ms: u64,
    pub audit_time_margin_bps: u32,
    pub audit_rerun_blocks_max: u64,
}

impl Default for AuditFile {
    fn default() -> Self {
        let p = plexus_state::audit::AuditParams::default();
        AuditFile {
            seg_fuel: p.seg_fuel,
            light_audit_ppm: p.light_audit_ppm,
            full_audit_ppm: p.full_audit_ppm,
            light_audit_segments: p.light_audit_segments,
            dissection_arity: p.dissection_arity,
            response_blocks: p.response_blocks,
            slash_multiple: p.slash_multiple,
            winner_share_bps: p.winner_share_bps,
            canary_ppm: p.canary_ppm,
            verifier_slash_multiple: p.verifier_slash_multiple,
            verifier_bond_min: p.verifier_bond_min.to_string(),
            audit_fee_bps: p.audit_fee_bps,
            payment_burn_bps: p.payment_burn_bps,
            emission_per_epoch: p.emission_per_epoch.to_string(),
            emission_halving_epochs: p.emission_halving_epochs,
            emission_validators_bps: p.emission_validators_bps,
            emission_providers_bps: p.emission_providers_bps,
            audit_block_ms: p.audit_block_ms,
            audit_time_margin_bps: p.audit_time_margin_bps,
            audit_rerun_blocks_max: p.audit_rerun_blocks_max,
        }
    }
}

impl AuditFile {
    fn to_params(&self) -> Result<plexus_state::audit::AuditParams, GenesisFileError> {
        let params = plexus_state::audit::AuditParams {
            seg_fuel: self.seg_fuel,
            light_audit_ppm: self.light_audit_ppm,
            full_audit_ppm: self.full_audit_ppm,
            light_audit_segments: self.light_audit_segments,
            dissection_arity: self.dissection_arity,
            response_blocks: self.response_blocks,
            slash_multiple: self.slash_multiple,
            winner_share_bps: self.winner_share_bps,
            canary_ppm: self.canary_ppm,
            verifier_slash_multiple: self.verifier_slash_multiple,
            verifier_bond_min: amount("params.audit.verifier_bond_min", &self.verifier_bond_min)?,
            audit_fee_bps: self.audit_fee_bps,
            payment_burn_bps: self.payment_burn_bps,
            emission_per_epoch: amount(
                "params.audit.emission_per_epoch",
                &self.emission_per_epoch,
            )?,
            emission_halving_epochs: self.emission_halving_epochs,
            emission_validators_bps: self.emission_validators_bps,
            emission_providers_bps: self.emission_providers_bps,
            audit_block_ms: self.audit_block_ms,
            audit_time_margin_bps: self.audit_time_margin_bps,
            audit_rerun_blocks_max: self.audit_rerun_blocks_max,
        };
        params.check().map_err(|message| GenesisFileError::Field {
            field: "params.audit".into(),
            message: message.into(),
        })?;
        Ok(params)
    }
}

fn default_slash_bps() -> u32 {
    Params::default().slash_bps
}

fn default_provider_bond_min() -> String {
    Params::default().provider_bond_min.to_string()
}

fn default_provider_unbonding_blocks() -> u64 {
    Params::default().provider_unbonding_blocks
}

fn default_heartbeat_interval_blocks() -> u64 {
    Params::default().heartbeat_interval_blocks
}

fn default_heartbeat_missed_max() -> u64 {
    Params::default().heartbeat_missed_max
}

fn default_settlement_window_blocks() -> u64 {
    Params::default().settlement_window_blocks
}

fn default_job_deadline_max_blocks() -> u64 {
    Params::default().job_deadline_max_blocks
}

fn default_job_deadline_min_blocks() -> u64 {
    Params::default().job_deadline_min_blocks
}

fn default_job_retention_blocks() -> u64 {
    Params::default().job_retention_blocks
}

fn default_bond_lock_multiple() -> u32 {
    Params::default().bond_lock_multiple
}

fn default_deadline_slash_bps() -> u32 {
    Params::default().deadline_slash_bps
}

fn default_reputation_done_gain() -> u32 {
    Params::default().reputation_done_gain
}

fn default_commission_max_bps() -> u32 {
    Params::default().commission_max_bps
}

fn default_commission_default_bps() -> u32 {
    Params::default().commission_default_bps
}

fn default_commission_change_epochs_min() -> u64 {
    Params::default().commission_change_epochs_min
}

fn default_gov_voting_period_blocks() -> u64 {
    Params::default().gov_voting_period_blocks
}

fn default_gov_quorum_bps() -> u32 {
    Params::default().gov_quorum_bps
}

fn default_gov_threshold_bps() -> u32 {
    Params::default().gov_threshold_bps
}

fn default_gov_veto_bps() -> u32 {
    Params::default().gov_veto_bps
}

fn default_gov_deposit_min() -> String {
    Params::default().gov_deposit_min.to_string()
}

fn default_gov_effect_delay_blocks() -> u64 {
    Params::default().gov_effect_delay_blocks
}

fn default_reputation_miss_penalty() -> u32 {
    Params::default().reputation_miss_penalty
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
            commission_max_bps: p.commission_max_bps,
            commission_default_bps: p.commission_default_bps,
            commission_change_epochs_min: p.commission_change_epochs_min,
            gov_voting_period_blocks: p.gov_voting_period_blocks,
            gov_quorum_bps: p.gov_quorum_bps,
            gov_threshold_bps: p.gov_threshold_bps,
            gov_veto_bps: p.gov_veto_bps,
            gov_deposit_min: p.gov_deposit_min.to_string(),
            gov_effect_delay_blocks: p.gov_effect_delay_blocks,
            provider_bond_min: p.provider_bond_min.to_string(),
            provider_unbonding_blocks: p.provider_unbonding_blocks,
            heartbeat_interval_blocks: p.heartbeat_interval_blocks,
            heartbeat_missed_max: p.heartbeat_missed_max,
            settlement_window_blocks: p.settlement_window_blocks,
            job_deadline_max_blocks: p.job_deadline_max_blocks,
            job_deadline_min_blocks: p.job_deadline_min_blocks,
            job_retention_blocks: p.job_retention_blocks,
            bond_lock_multiple: p.bond_lock_multiple,
            deadline_slash_bps: p.deadline_slash_bps,
            reputation_done_gain: p.reputation_done_gain,
            reputation_miss_penalty: p.reputation_miss_penalty,
            audit: AuditFile::default(),
            storage: StorageFile::default(),
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
            commission_max_bps: self.params.commission_max_bps,
            commission_default_bps: self.params.commission_default_bps,
            commission_change_epochs_min: self.params.commission_change_epochs_min,
            gov_voting_period_blocks: self.params.gov_voting_period_blocks,
            gov_quorum_bps: self.params.gov_quorum_bps,
            gov_threshold_bps: self.params.gov_threshold_bps,
            gov_veto_bps: self.params.gov_veto_bps,
            gov_deposit_min: amount("params.gov_deposit_min", &self.params.gov_deposit_min)?,
            gov_effect_delay_blocks: self.params.gov_effect_delay_blocks,
            provider_bond_min: amount("params.provider_bond_min", &self.params.provider_bond_min)?,
            provider_unbonding_blocks: self.params.provider_unbonding_blocks,
            heartbeat_interval_blocks: self.params.heartbeat_interval_blocks,
            heartbeat_missed_max: self.params.heartbeat_missed_max,
            settlement_window_blocks: self.params.settlement_window_blocks,
            job_deadline_max_blocks: self.params.job_deadline_max_blocks,
            job_deadline_min_blocks: self.params.job_deadline_min_blocks,
            job_retention_blocks: self.params.job_retention_blocks,
            bond_lock_multiple: self.params.bond_lock_multiple,
            deadline_slash_bps: self.params.deadline_slash_bps.min(10_000),
            reputation_done_gain: self.params.reputation_done_gain,
            reputation_miss_penalty: self.params.reputation_miss_penalty,
            audit: self.params.audit.to_params()?,
            storage: self.params.storage.to_params()?,
        };
        params.check().map_err(|message| GenesisFileError::Field {
            field: "params".into(),
            message: message.into(),
        })?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_cryptography::Signer;

    #[test]
    fn params_without_market_fields_load_with_the_defaults() {
        let old = r#"{"fee_min": "1000", "self_bond_min": "5", "unbonding_period_blocks": 7,
            "epoch_length_blocks": 10, "committee_size_max": 4}"#;
        let params: ParamsFile = serde_json::from_str(old).unwrap();
        let defaults = ParamsFile::default();
        assert_eq!(params.slash_bps, defaults.slash_bps);
        assert_eq!(params.provider_bond_min, defaults.provider_bond_min);
        assert_eq!(params.heartbeat_missed_max, defaults.heartbeat_missed_max);
        assert_eq!(
            params.reputation_miss_penalty,
            defaults.reputation_miss_penalty
        );
        let file = GenesisFile {
            chain_id: 1,
            timestamp_ms: 0,
            params: ParamsFile {
                provider_bond_min: "2.5plx".into(),
                deadline_slash_bps: 20_000,
                ..params
            },
            allocations: Vec::new(),
            validators: Vec::new(),
            beacon_key: beacon_key_hex(
                &plexus_state::beacon::DevBeacon::deal(
                    0,
                    [plexus_types::PrivateKey::from_seed(0).public_key()],
                )
                .output,
            ),
        };
        let genesis = file.to_genesis().unwrap();
        assert_eq!(genesis.params.provider_bond_min, 2_500_000_000);
        assert_eq!(genesis.params.deadline_slash_bps, 10_000);
        assert_eq!(genesis.params.self_bond_min, 5);
        assert_eq!(
            genesis.params.settlement_window_blocks,
            Params::default().settlement_window_blocks
        );
        assert_eq!(
            genesis.params.audit,
            plexus_state::audit::AuditParams::default()
        );
        // The commission parameters default in older files (50% max, 10% for a new validator,
        // one change per epoch); bounds that break each other are refused.
        let defaults = Params::default();
        assert_eq!(
            (
                genesis.params.commission_max_bps,
                genesis.params.commission_default_bps,
                genesis.params.commission_change_epochs_min
            ),
            (5_000, 1_000, 1)
        );
        assert_eq!(
            genesis.params.commission_max_bps,
            defaults.commission_max_bps
        );
        for (max, default, interval) in [(10_001, 0, 1), (4_000, 4_001, 1), (5_000, 1_000, 0)] {
            let bad = GenesisFile {
                params: ParamsFile {
                    commission_max_bps: max,
                    commission_default_bps: default,
                    commission_change_epochs_min: interval,
                    ..file.params.clone()
                },
                ..file.clone()
            };
            let error = bad.to_genesis().unwrap_err().to_string();
            assert!(error.contains("commission"), "{error}");
        }

        // Audit parameters: any field may be given, the rest default; bad ones are refused.
        let audit: AuditFile =
            serde_json::from_str(r#"{"canary_ppm": 1000000, "verifier_bond_min": "5plx"}"#)
                .unwrap();
        let file = GenesisFile {
            params: ParamsFile {
                audit,
                ..file.params.clone()
            },
            ..file.clone()
        };
        let params = file.to_genesis().unwrap().params.audit;
        assert_eq!(params.canary_ppm, 1_000_000);
        assert_eq!(params.verifier_bond_min, 5_000_000_000);
        assert_eq!(
            params.seg_fuel,
            plexus_state::audit::AuditParams::default().seg_fuel
        );
        for bad in [
            r#"{"light_audit_ppm": 2000000}"#,
            r#"{"dissection_arity": 1}"#,
            r#"{"seg_fuel": 0}"#,
            r#"{"verifier_bond_min": "lots"}"#,
        ] {
            let audit: AuditFile = serde_json::from_str(bad).unwrap();
            let file = GenesisFile {
                params: ParamsFile {
                    audit,
                    ..file.params.clone()
                },
                ..file.clone()
            };
            assert!(file.to_genesis().is_err(), "accepted {bad}");
        }

        // Storage parameters: the same, any field given and the rest defaulted.
        let storage: StorageFile =
            serde_json::from_str(r#"{"k": 2, "n": 4, "collateral_min_per_shard": "1plx"}"#)
                .unwrap();
        let with_storage = GenesisFile {
            params: ParamsFile {
                storage,
                ..file.params.clone()
            },
            ..file.clone()
        };
        let params = with_storage.to_genesis().unwrap().params.storage;
        assert_eq!((params.k, params.n), (2, 4));
        assert_eq!(params.collateral_min_per_shard, 1_000_000_000);
        assert_eq!(
            params.proof_window_blocks,
            StorageParams::default().proof_window_blocks
        );
        for bad in [
            r#"{"k": 5, "n": 4}"#,
            r#"{"proof_window_blocks": 0}"#,
            r#"{"collateral_epochs": 1}"#,
            r#"{"collateral_min_per_shard": "lots"}"#,
        ] {
            let storage: StorageFile = serde_json::from_str(bad).unwrap();
            let file = GenesisFile {
                params: ParamsFile {
                    storage,
                    ..file.params.clone()
                },
                ..file.clone()
            };
            assert!(file.to_genesis().is_err(), "accepted {bad}");
        }
    }
}
