//! The protocol states the API names, as enums: a job's status, its audit's kind and stage, a
//! dispute's phase, whose turn it is and how it ended, a receipt's and a transaction's status, a
//! storage shard's state.
//! Each variant's JSON string is written once, here ([`wire_enum!`]), so the node, the agent and
//! the CLI match variants and never string literals; the OpenAPI document lists every value.

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use std::{borrow::Cow, fmt};
use utoipa::{
    ToSchema,
    openapi::{
        RefOr, Type,
        schema::{ObjectBuilder, Schema},
    },
};

/// An enum whose variants travel as fixed strings: `Variant = "text"` gives serde's form, the
/// OpenAPI enum value, `as_str`, `Display` and `FromStr`, all from that one literal (serde and
/// the schema are written out from `as_str` rather than derived, so nothing else names a state).
macro_rules! wire_enum {
    (
        $(#[doc = $doc:literal])*
        pub enum $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[doc = $doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $($(#[$variant_meta])* $variant,)+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The variant's JSON string.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownState;

            /// The variant whose JSON string is `text`, exactly.
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|value| value.as_str() == text)
                    .ok_or_else(|| UnknownState {
                        kind: stringify!($name),
                        text: text.into(),
                        expected: $name::ALL.iter().map(|v| v.as_str()).collect(),
                    })
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(de::Error::custom)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                let lines: &[&str] = &[$($doc),*];
                let description: Vec<&str> = lines.iter().map(|line| line.trim()).collect();
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some(description.join("\n")))
                    .enum_values(Some($name::ALL.iter().map(|value| value.as_str())))
                    .into()
            }
        }

        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

/// A string that names no variant of a state enum.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a {kind}: expected one of {expected:?}")]
pub struct UnknownState {
    pub kind: &'static str,
    pub text: String,
    pub expected: Vec<&'static str>,
}

wire_enum! {
    /// Where a job is in the market.
    pub enum JobStatus {
        /// Waiting for a provider (matched only in the block that includes it).
        Posted = "posted",
        /// Matched to a provider, which owes a commitment by the deadline.
        Assigned = "assigned",
        /// The provider committed; it settles at `settle_height` unless disputed.
        Committed = "committed",
        /// Paid and refunded: over.
        Settled = "settled",
        /// No commitment by the deadline: refunded, the provider slashed.
        Expired = "expired",
        /// Cancelled by its consumer before a match.
        Cancelled = "cancelled",
        /// Its commitment lost a dispute: refunded, the provider slashed.
        Refuted = "refuted",
    }
}

impl JobStatus {
    /// Whether nothing more happens to the job.
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            JobStatus::Posted | JobStatus::Assigned | JobStatus::Committed
        )
    }
}

wire_enum! {
    /// The audit a consumer bought for its job.
    pub enum AuditClass {
        /// The protocol's random audits.
        Standard = "standard",
        /// Always re-executed in full.
        Full = "full",
    }
}

wire_enum! {
    /// What an audit re-runs.
    pub enum AuditKind {
        /// The whole job.
        Full = "full",
        /// The drawn segments, each from the provider's checkpoint.
        Light = "light",
    }
}

wire_enum! {
    /// Where an audit is.
    pub enum AuditStage {
        /// Drawn: the verifier owes a sealed verdict by `due_height`.
        Drawn = "drawn",
        /// Sealed: the verifier owes the reveal by `due_height`.
        Sealed = "sealed",
        /// The revealed verdict agreed with the commitment.
        Passed = "passed",
        /// The revealed verdict disagreed: a dispute was opened.
        Disputed = "disputed",
        /// The verifier missed a deadline.
        Missed = "missed",
        /// The verifier declined it before its seal was due.
        Declined = "declined",
        /// A canary whose job was pruned first.
        Withdrawn = "withdrawn",
    }
}

impl AuditStage {
    /// Whether the verifier still owes a step (a seal or a reveal).
    pub fn is_open(self) -> bool {
        matches!(self, AuditStage::Drawn | AuditStage::Sealed)
    }
}

wire_enum! {
    /// Where a dispute's dissection game is.
    pub enum DisputePhase {
        /// The defender owes its leaf hashes at the split points.
        AwaitingReveal = "awaiting_reveal",
        /// The challenger owes its choice of sub-interval.
        AwaitingChoice = "awaiting_choice",
        /// The defender owes the proof of two adjacent leaves.
        AwaitingProof = "awaiting_proof",
        /// The game is over; the settlement (the validators' re-run) is due.
        Resolved = "resolved",
        /// The chain ruled.
        Ruled = "ruled",
    }
}

wire_enum! {
    /// Who owes a dispute's next step.
    pub enum Turn {
        /// The provider: a reveal or a proof.
        Defender = "defender",
        /// The verifier or consumer that opened it: a choice.
        Challenger = "challenger",
        /// Anyone: the settlement of a resolved game.
        Settle = "settle",
    }
}

wire_enum! {
    /// How a dispute ended.
    pub enum DisputeEnd {
        /// The validators re-ran the resolved segment.
        Replay = "replay",
        /// A side missed its deadline.
        Timeout = "timeout",
    }
}

wire_enum! {
    /// Where a storage shard is in its life.
    pub enum ShardState {
        /// Drawn to its holder, which must accept it by `accept_due_height` (else the slot is
        /// drawn again).
        Drawn = "drawn",
        /// Accepted: the holder stores it, answers a challenge every epoch and is paid for
        /// each epoch it proved.
        Active = "active",
        /// Active, with a fault declared by its holder: unpaid, its missed challenges excused
        /// for at most `fault_excuse_epochs_max` epochs; a proof ends the fault.
        Faulty = "faulty",
        /// Declared lost; its holder is the repairer drawn to rebuild it, which must accept it
        /// by `accept_due_height` (else it is drawn again).
        Repairing = "repairing",
        /// Declared lost with nobody to rebuild it yet; its holder is the lost holder (which
        /// holds nothing now) and a repairer is drawn at `accept_due_height`.
        Lost = "lost",
    }
}

wire_enum! {
    /// How a storage challenge ended, or that it waits for its proof.
    pub enum ChallengeOutcome {
        /// Waiting for the holder's proof until `due_height`.
        Open = "open",
        /// Proven: the epoch is paid.
        Proven = "proven",
        /// No valid proof in the window: unpaid, three times the pay burned.
        Missed = "missed",
        /// No proof, excused by a declared fault: unpaid, nothing burned.
        Excused = "excused",
    }
}

wire_enum! {
    /// A finalized transaction's outcome.
    pub enum ReceiptStatus {
        /// Executed.
        Success = "success",
        /// Fee charged, no effect.
        Failed = "failed",
        /// Nothing charged.
        Rejected = "rejected",
    }
}

wire_enum! {
    /// Where a known transaction is.
    pub enum TxState {
        /// In the mempool.
        Pending = "pending",
        /// In a finalized block.
        Finalized = "finalized",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each variant's JSON is its `as_str`, quoted, and parses back; the OpenAPI schema lists
    /// exactly those strings.
    fn check<T>(all: &[T], as_str: fn(T) -> &'static str)
    where
        T: Copy + fmt::Debug + PartialEq + Serialize + for<'de> Deserialize<'de> + ToSchema,
        T: std::str::FromStr<Err = UnknownState>,
    {
        let schema = serde_json::to_value(<T as utoipa::PartialSchema>::schema()).unwrap();
        let listed: Vec<&str> = schema["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{schema}"))
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(listed, all.iter().map(|v| as_str(*v)).collect::<Vec<_>>());
        for &value in all {
            let json = serde_json::to_string(&value).unwrap();
            assert_eq!(json, format!("\"{}\"", as_str(value)));
            assert_eq!(serde_json::from_str::<T>(&json).unwrap(), value);
            assert_eq!(as_str(value).parse::<T>().unwrap(), value);
        }
    }

    #[test]
    fn every_state_travels_as_its_one_string() {
        check(JobStatus::ALL, JobStatus::as_str);
        check(AuditClass::ALL, AuditClass::as_str);
        check(AuditKind::ALL, AuditKind::as_str);
        check(AuditStage::ALL, AuditStage::as_str);
        check(DisputePhase::ALL, DisputePhase::as_str);
        check(Turn::ALL, Turn::as_str);
        check(DisputeEnd::ALL, DisputeEnd::as_str);
        check(ReceiptStatus::ALL, ReceiptStatus::as_str);
        check(TxState::ALL, TxState::as_str);
        check(ShardState::ALL, ShardState::as_str);
        assert!(serde_json::from_str::<JobStatus>("\"Settled\"").is_err());
        assert!("Settled".parse::<JobStatus>().is_err());
    }
}
