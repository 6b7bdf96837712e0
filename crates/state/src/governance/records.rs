//! The governance records: a proposal, its tally and status, and their snapshot encoding
//! (`proposals.rs` has the rules that write them).

use crate::ledger::record_codec::fixed_record;
use bytes::BufMut;
use commonware_codec::{Buf, EncodeSize, Error, Read, ReadExt, Write};
use plexus_types::gov::{ParamChange, VoteOption};
use plexus_types::job::{read_str, str_encode_size, write_str};
use plexus_types::{Address, Amount};
use std::collections::BTreeMap;

/// Basis points in one.
const BPS: u128 = 10_000;
/// The most votes a decoded proposal may hold (the snapshot's bound on any collection,
/// `SNAPSHOT_ENTRIES_MAX`).
const VOTERS_MAX: usize = 1 << 32;
/// The longest reason a failed application keeps.
pub const FAILURE_SIZE_MAX: usize = 1_024;

/// Where a proposal is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProposalStatus {
    /// Votes are open (through `end_height`); the deposit is held.
    Voting,
    /// Passed; its changes apply at the end of `effect_height`.
    Passed,
    /// Quorum reached, vetoed below `gov_veto_bps`, but not enough yes: the deposit returned.
    Rejected,
    /// Vetoed by at least `gov_veto_bps` of the votes cast: the deposit burned.
    Vetoed,
    /// Turnout below `gov_quorum_bps` of the bonded stake: the deposit burned.
    NoQuorum,
    /// Its changes are in force since the block after `effect_height`.
    Applied,
    /// Passed, but at `effect_height` its changes broke a rule: nothing changed.
    FailedToApply(String),
}

impl ProposalStatus {
    /// The lower-case name the API shows.
    pub fn name(&self) -> &'static str {
        match self {
            ProposalStatus::Voting => "voting",
            ProposalStatus::Passed => "passed",
            ProposalStatus::Rejected => "rejected",
            ProposalStatus::Vetoed => "vetoed",
            ProposalStatus::NoQuorum => "no_quorum",
            ProposalStatus::Applied => "applied",
            ProposalStatus::FailedToApply(_) => "failed_to_apply",
        }
    }
}

/// The stake behind each option, and the total bonded stake it was counted against.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub yes: Amount,
    pub no: Amount,
    pub abstain: Amount,
    pub veto: Amount,
    /// The total bonded stake at the tally.
    pub bonded: Amount,
}

impl Tally {
    /// Every vote cast: yes + no + abstain + veto.
    pub fn cast(&self) -> Amount {
        self.yes + self.no + self.abstain + self.veto
    }

    /// Turnout in basis points of the bonded stake (rounded down; zero when nothing is bonded).
    pub fn turnout_bps(&self) -> u128 {
        self.cast()
            .saturating_mul(BPS)
            .checked_div(self.bonded)
            .unwrap_or(0)
    }

    /// The outcome under `quorum_bps`, `veto_bps` and `threshold_bps` (the module's rules).
    pub fn outcome(&self, quorum_bps: u32, veto_bps: u32, threshold_bps: u32) -> ProposalStatus {
        let cast = self.cast();
        if self.bonded == 0
            || cast.saturating_mul(BPS) < self.bonded.saturating_mul(u128::from(quorum_bps))
        {
            ProposalStatus::NoQuorum
        } else if self.veto.saturating_mul(BPS) >= cast.saturating_mul(u128::from(veto_bps)) {
            ProposalStatus::Vetoed
        } else if self.yes > 0
            && self.yes.saturating_mul(BPS)
                > (self.yes + self.no).saturating_mul(u128::from(threshold_bps))
        {
            ProposalStatus::Passed
        } else {
            ProposalStatus::Rejected
        }
    }
}

/// One proposal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    pub proposer: Address,
    pub changes: Vec<ParamChange>,
    pub title: String,
    pub description: String,
    pub deposit: Amount,
    /// The height of the block that made it.
    pub submit_height: u64,
    /// The last height votes are taken; tallied at the end of this block.
    pub end_height: u64,
    /// Where a pass applies its changes (at the end of this block).
    pub effect_height: u64,
    /// Each voter's latest vote.
    pub votes: BTreeMap<Address, VoteOption>,
    /// The tally (zero until the voting ends).
    pub tally: Tally,
    pub status: ProposalStatus,
}

impl Proposal {
    /// The deposit the proposal holds: all of it while voting, none after.
    pub fn deposit_held(&self) -> Amount {
        if self.status == ProposalStatus::Voting {
            self.deposit
        } else {
            0
        }
    }
}

fixed_record!(Tally {
    yes: u128,
    no: u128,
    abstain: u128,
    veto: u128,
    bonded: u128,
});

impl Write for ProposalStatus {
    fn write(&self, buf: &mut impl BufMut) {
        let tag: u8 = match self {
            ProposalStatus::Voting => 0,
            ProposalStatus::Passed => 1,
            ProposalStatus::Rejected => 2,
            ProposalStatus::Vetoed => 3,
            ProposalStatus::NoQuorum => 4,
            ProposalStatus::Applied => 5,
            ProposalStatus::FailedToApply(_) => 6,
        };
        tag.write(buf);
        if let ProposalStatus::FailedToApply(why) = self {
            write_str(why, buf);
        }
    }
}

impl EncodeSize for ProposalStatus {
    fn encode_size(&self) -> usize {
        1 + match self {
            ProposalStatus::FailedToApply(why) => str_encode_size(why),
            _ => 0,
        }
    }
}

impl Read for ProposalStatus {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(match u8::read(buf)? {
            0 => ProposalStatus::Voting,
            1 => ProposalStatus::Passed,
            2 => ProposalStatus::Rejected,
            3 => ProposalStatus::Vetoed,
            4 => ProposalStatus::NoQuorum,
            5 => ProposalStatus::Applied,
            6 => ProposalStatus::FailedToApply(read_str(buf, FAILURE_SIZE_MAX, "ProposalStatus")?),
            other => return Err(Error::InvalidEnum(other)),
        })
    }
}

impl Write for Proposal {
    fn write(&self, buf: &mut impl BufMut) {
        self.proposer.write(buf);
        plexus_types::gov::write_changes(&self.changes, buf);
        plexus_types::gov::write_text(&self.title, &self.description, buf);
        self.deposit.write(buf);
        self.submit_height.write(buf);
        self.end_height.write(buf);
        self.effect_height.write(buf);
        self.votes.write(buf);
        self.tally.write(buf);
        self.status.write(buf);
    }
}

impl EncodeSize for Proposal {
    fn encode_size(&self) -> usize {
        self.proposer.encode_size()
            + plexus_types::gov::changes_encode_size(&self.changes)
            + plexus_types::gov::text_encode_size(&self.title, &self.description)
            + self.deposit.encode_size()
            + 3 * 8
            + self.votes.encode_size()
            + self.tally.encode_size()
            + self.status.encode_size()
    }
}

impl Read for Proposal {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        let proposer = Address::read(buf)?;
        let changes = plexus_types::gov::read_changes(buf)?;
        let (title, description) = plexus_types::gov::read_text(buf)?;
        Ok(Proposal {
            proposer,
            changes,
            title,
            description,
            deposit: u128::read(buf)?,
            submit_height: u64::read(buf)?,
            end_height: u64::read(buf)?,
            effect_height: u64::read(buf)?,
            votes: Read::read_cfg(buf, &((..=VOTERS_MAX).into(), ((), ())))?,
            tally: Tally::read(buf)?,
            status: ProposalStatus::read(buf)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(yes: u128, no: u128, abstain: u128, veto: u128, bonded: u128) -> ProposalStatus {
        Tally {
            yes,
            no,
            abstain,
            veto,
            bonded,
        }
        .outcome(3_340, 3_340, 5_000)
    }

    #[test]
    fn each_rule_is_decided_at_its_exact_edge() {
        // Quorum: 3 340 of 10 000 bonded is enough, 3 339 is not.
        assert_eq!(tally(3_340, 0, 0, 0, 10_000), ProposalStatus::Passed);
        assert_eq!(tally(3_339, 0, 0, 0, 10_000), ProposalStatus::NoQuorum);
        // Abstentions count toward the quorum, not toward the threshold.
        assert_eq!(tally(1, 0, 3_339, 0, 10_000), ProposalStatus::Passed);
        assert_eq!(tally(0, 0, 3_340, 0, 10_000), ProposalStatus::Rejected);
        // Veto: 3 340 of 10 000 cast vetoes, 3 339 does not.
        assert_eq!(tally(6_660, 0, 0, 3_340, 10_000), ProposalStatus::Vetoed);
        assert_eq!(tally(6_661, 0, 0, 3_339, 10_000), ProposalStatus::Passed);
        // Threshold: yes must be strictly more than half of yes + no.
        assert_eq!(tally(5_000, 5_000, 0, 0, 10_000), ProposalStatus::Rejected);
        assert_eq!(tally(5_001, 4_999, 0, 0, 10_000), ProposalStatus::Passed);
        // Nothing bonded: no quorum, never a division by zero.
        assert_eq!(tally(0, 0, 0, 0, 0), ProposalStatus::NoQuorum);
        assert_eq!(Tally::default().turnout_bps(), 0);
    }

    #[test]
    fn a_proposal_round_trips_in_every_status() {
        use commonware_codec::{DecodeExt, Encode};
        use commonware_cryptography::Signer;
        let voter = Address(plexus_types::PrivateKey::from_seed(1).public_key());
        for status in [
            ProposalStatus::Voting,
            ProposalStatus::Applied,
            ProposalStatus::FailedToApply("why".into()),
        ] {
            let proposal = Proposal {
                proposer: voter.clone(),
                changes: vec![("chain.fee_min".into(), 5)],
                title: "t".into(),
                description: "d".into(),
                deposit: 7,
                submit_height: 1,
                end_height: 2,
                effect_height: 3,
                votes: [(voter.clone(), VoteOption::Veto)].into(),
                tally: Tally::default(),
                status,
            };
            let encoded = proposal.encode();
            assert_eq!(encoded.len(), proposal.encode_size());
            assert_eq!(Proposal::decode(encoded).unwrap(), proposal);
        }
    }
}
