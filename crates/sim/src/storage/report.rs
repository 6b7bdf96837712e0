//! What a storage run measured: each provider's tally, summed per class, and the table the
//! closing note prints.

use plexus_types::{Amount, Digest, PLX};
use std::fmt::Write as _;

/// A provider's conduct in the simulation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// Answers every challenge in its window; short outages, declared planned downtime.
    #[default]
    Honest,
    /// Keeps only part of each shard's chunks and answers what it can.
    Lazy,
    /// Vanishes for several epochs without declaring anything, then comes back.
    Offline,
    /// Honest, but joins during the run (and leaves once it holds nothing, some of them).
    Churn,
}

impl Class {
    /// Every class, in table order.
    pub const ALL: [Class; 4] = [Class::Honest, Class::Lazy, Class::Offline, Class::Churn];

    fn label(self) -> &'static str {
        match self {
            Class::Honest => "honest",
            Class::Lazy => "lazy",
            Class::Offline => "offline",
            Class::Churn => "churn",
        }
    }
}

/// One provider's figures (or a class's sums).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClassRow {
    /// Providers in the class.
    pub providers: u64,
    /// Distinct shards accepted (first placements and repairs).
    pub shards_held: u64,
    /// Shard-epochs held active at an epoch's end: the size the money is compared by.
    pub shard_epochs: u64,
    /// Challenges opened on its shards.
    pub challenges: u64,
    /// Challenges proven.
    pub passed: u64,
    /// Challenges missed (burned).
    pub missed: u64,
    /// Challenges excused by a declared fault.
    pub excused: u64,
    /// Proofs the chain judged wrong (slashed).
    pub wrong: u64,
    /// Pay, repair fees and the storage emission received, in base units.
    pub earned: Amount,
    /// Fees paid for its transactions.
    pub fees: Amount,
    /// Burned from its bond for missed challenges.
    pub burned: Amount,
    /// Slashed from its bond for wrong proofs.
    pub slashed: Amount,
    /// What storing its shards cost it (half its price per byte-epoch, the model's figure),
    /// less what it saved by dropping chunks.
    pub storage_cost: Amount,
    /// What dropping chunks saved it.
    pub saved: Amount,
}

impl ClassRow {
    /// Earned less fees, burns, slashes and the storage it paid for (negative: a loss).
    pub fn net(&self) -> i128 {
        self.earned as i128
            - self.fees as i128
            - self.burned as i128
            - self.slashed as i128
            - self.storage_cost as i128
    }

    /// Net per shard-epoch held (0 with none held).
    pub fn net_per_shard_epoch(&self) -> i128 {
        if self.shard_epochs == 0 {
            0
        } else {
            self.net() / i128::from(self.shard_epochs)
        }
    }

    pub(super) fn add(&mut self, other: &ClassRow) {
        self.providers += other.providers;
        self.shards_held += other.shards_held;
        self.shard_epochs += other.shard_epochs;
        self.challenges += other.challenges;
        self.passed += other.passed;
        self.missed += other.missed;
        self.excused += other.excused;
        self.wrong += other.wrong;
        self.earned += other.earned;
        self.fees += other.fees;
        self.burned += other.burned;
        self.slashed += other.slashed;
        self.storage_cost += other.storage_cost;
        self.saved += other.saved;
    }
}

/// A storage run's figures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageOutcome {
    pub seed: u64,
    /// Blocks and epochs run.
    pub blocks: u64,
    pub epochs: u64,
    /// Per class, in [`Class::ALL`]'s order.
    pub rows: Vec<(Class, ClassRow)>,
    /// Segments posted in deals that were placed.
    pub segments_stored: u64,
    /// Segments that fell below `k` correct copies at some block.
    pub segments_lost: u64,
    /// The most holders of one segment that were failed (offline, lazy, or not yet rebuilt) at
    /// once, over every segment and block.
    pub failed_holders_max: u64,
    /// Shards the chain declared lost.
    pub shards_lost: u64,
    /// Repairs accepted, and the mean blocks from a shard's loss to its repairer's accept.
    pub repairs_done: u64,
    pub repair_blocks_mean: u64,
    /// Repairs (real decodes) the sim's repairers ran.
    pub decodes: u64,
    /// Outsider reads refused; owner, grantee and repairer reads allowed.
    pub reads_refused: u64,
    pub reads_allowed: u64,
    /// The final state root.
    pub state_root: Digest,
}

impl StorageOutcome {
    /// The row of `class`.
    pub fn row(&self, class: Class) -> &ClassRow {
        &self
            .rows
            .iter()
            .find(|(c, _)| *c == class)
            .expect("every class has a row")
            .1
    }

    /// The closing note's table (amounts in milli-PLX).
    pub fn table(&self) -> String {
        let milli = |a: i128| a * 1_000 / PLX as i128;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "storage sim, seed {}: {} blocks, {} epochs",
            self.seed, self.blocks, self.epochs
        );
        let _ = writeln!(
            out,
            "| class | providers | shards held | shard-epochs | challenges | passed | missed | excused | wrong | earned mPLX | fees mPLX | burned mPLX | slashed mPLX | storage cost mPLX (saved) | net mPLX | net per shard-epoch uPLX |"
        );
        let _ = writeln!(
            out,
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        );
        for (class, row) in &self.rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} ({}) | {} | {} |",
                class.label(),
                row.providers,
                row.shards_held,
                row.shard_epochs,
                row.challenges,
                row.passed,
                row.missed,
                row.excused,
                row.wrong,
                milli(row.earned as i128),
                milli(row.fees as i128),
                milli(row.burned as i128),
                milli(row.slashed as i128),
                milli(row.storage_cost as i128),
                milli(row.saved as i128),
                milli(row.net()),
                row.net_per_shard_epoch() * 1_000_000 / PLX as i128,
            );
        }
        let _ = writeln!(
            out,
            "segments stored {}, lost {} (most failed holders of one segment at once: {}); shards lost {}, repairs done {} ({} decodes), mean blocks from loss to repair {}; reads refused {}, allowed {}",
            self.segments_stored,
            self.segments_lost,
            self.failed_holders_max,
            self.shards_lost,
            self.repairs_done,
            self.decodes,
            self.repair_blocks_mean,
            self.reads_refused,
            self.reads_allowed,
        );
        out
    }
}
