//! The epoch schedule: where each epoch starts and how long it is.
//!
//! Epochs are numbered from 0 at genesis and follow each other without gaps. Their length is
//! `Params::epoch_length_blocks`, which a vote may change; a change takes effect at an epoch
//! boundary [`CHANGE_DELAY_EPOCHS`] epochs after the epoch the change was applied in, so every
//! epoch a node has entered, and the one after it, keep the boundaries they were entered with
//! (Commonware's `Epocher` contract: a height's epoch never changes). The schedule is a list of
//! segments of equal-length epochs; the first starts at genesis, each later one where a change
//! took effect. Segments come only from passed proposals, so there are few.

use bytes::BufMut;
use commonware_codec::{Buf, EncodeSize, Error, Read, ReadExt, Write};

/// Epochs between the epoch a length change is applied in and the first epoch of the new
/// length: a change applied in epoch `e` takes effect at epoch `e + 2`, so epoch `e + 1`,
/// which nodes may already be preparing (its reshare round, its engine), keeps its boundaries.
pub const CHANGE_DELAY_EPOCHS: u64 = 2;

/// The most segments a schedule holds: a bound for decoding, far above what governance can
/// make (each change costs a proposal's deposit and voting period).
pub const SEGMENTS_MAX: usize = 1 << 16;

/// Epochs `first_epoch..` (until the next segment) of `length` blocks each, the first starting
/// at `first_height`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpochSegment {
    pub first_epoch: u64,
    pub first_height: u64,
    pub length: u64,
}

/// The chain's epochs (module doc). Never empty; segments ascend by epoch and by height.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpochSchedule {
    segments: Vec<EpochSegment>,
}

impl EpochSchedule {
    /// Epochs of `length` blocks from genesis (a length of 0 counts as 1).
    pub fn new(length: u64) -> Self {
        EpochSchedule {
            segments: vec![EpochSegment {
                first_epoch: 0,
                first_height: 0,
                length: length.max(1),
            }],
        }
    }

    /// The segments, oldest first.
    pub fn segments(&self) -> &[EpochSegment] {
        &self.segments
    }

    /// The segment holding `epoch`.
    fn segment_of_epoch(&self, epoch: u64) -> &EpochSegment {
        let after = self.segments.partition_point(|s| s.first_epoch <= epoch);
        &self.segments[after.saturating_sub(1)]
    }

    /// The epoch the block at `height` belongs to.
    pub fn epoch_of(&self, height: u64) -> u64 {
        let after = self.segments.partition_point(|s| s.first_height <= height);
        let segment = &self.segments[after.saturating_sub(1)];
        segment.first_epoch + (height - segment.first_height) / segment.length
    }

    /// The height of `epoch`'s first block (saturating at `u64::MAX`).
    pub fn first_height(&self, epoch: u64) -> u64 {
        let segment = self.segment_of_epoch(epoch);
        (epoch - segment.first_epoch)
            .saturating_mul(segment.length)
            .saturating_add(segment.first_height)
    }

    /// The height of `epoch`'s last block (saturating at `u64::MAX`).
    pub fn last_height(&self, epoch: u64) -> u64 {
        self.first_height(epoch)
            .saturating_add(self.length_of(epoch) - 1)
    }

    /// How many blocks `epoch` has.
    pub fn length_of(&self, epoch: u64) -> u64 {
        self.segment_of_epoch(epoch).length
    }

    /// Whether the block at `height` is the first of its epoch.
    pub fn is_first(&self, height: u64) -> bool {
        self.first_height(self.epoch_of(height)) == height
    }

    /// Whether the block at `height` is the last of its epoch.
    pub fn is_last(&self, height: u64) -> bool {
        self.last_height(self.epoch_of(height)) == height
    }

    /// The shortest epoch from `epoch` on.
    pub fn shortest_from(&self, epoch: u64) -> u64 {
        let from = self
            .segments
            .partition_point(|s| s.first_epoch <= epoch)
            .saturating_sub(1);
        self.segments[from..]
            .iter()
            .map(|s| s.length)
            .min()
            .unwrap_or(1)
    }

    /// Makes the epochs from `epoch` on `length` blocks long (at least 1), replacing any change
    /// scheduled from `epoch` or later. A length equal to the one `epoch` would have anyway adds
    /// no segment.
    pub(crate) fn change_from(&mut self, epoch: u64, length: u64) {
        let length = length.max(1);
        let first_height = {
            self.segments
                .retain(|s| s.first_epoch < epoch || s.first_epoch == 0);
            self.first_height(epoch)
        };
        let last = self.segments.last().expect("never empty");
        if last.length == length {
            return;
        }
        if last.first_epoch == epoch {
            // Only genesis's segment can start at `epoch` here (epoch 0).
            self.segments.pop();
        }
        self.segments.push(EpochSegment {
            first_epoch: epoch,
            first_height,
            length,
        });
    }

    /// Whether the segments make a schedule: a first one at genesis, each later one where the
    /// previous one's epochs put it, every length positive.
    fn is_consistent(&self) -> bool {
        let Some(first) = self.segments.first() else {
            return false;
        };
        if first.first_epoch != 0 || first.first_height != 0 {
            return false;
        }
        self.segments.iter().all(|s| s.length > 0)
            && self.segments.windows(2).all(|pair| {
                let (a, b) = (pair[0], pair[1]);
                b.first_epoch > a.first_epoch
                    && (b.first_epoch - a.first_epoch)
                        .checked_mul(a.length)
                        .and_then(|blocks| blocks.checked_add(a.first_height))
                        == Some(b.first_height)
            })
    }
}

impl Write for EpochSchedule {
    fn write(&self, buf: &mut impl BufMut) {
        (self.segments.len() as u32).write(buf);
        for s in &self.segments {
            s.first_epoch.write(buf);
            s.first_height.write(buf);
            s.length.write(buf);
        }
    }
}

impl EncodeSize for EpochSchedule {
    fn encode_size(&self) -> usize {
        4 + self.segments.len() * 24
    }
}

impl Read for EpochSchedule {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        let count = u32::read(buf)? as usize;
        if count == 0 || count > SEGMENTS_MAX {
            return Err(Error::Invalid("EpochSchedule", "segment count"));
        }
        let mut segments = Vec::with_capacity(count.min(64));
        for _ in 0..count {
            segments.push(EpochSegment {
                first_epoch: u64::read(buf)?,
                first_height: u64::read(buf)?,
                length: u64::read(buf)?,
            });
        }
        let schedule = EpochSchedule { segments };
        if !schedule.is_consistent() {
            return Err(Error::Invalid("EpochSchedule", "inconsistent segments"));
        }
        Ok(schedule)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{DecodeExt, Encode};

    #[test]
    fn fixed_epochs_number_heights_as_height_over_length() {
        let schedule = EpochSchedule::new(10);
        for height in 0..100 {
            assert_eq!(schedule.epoch_of(height), height / 10);
            assert_eq!(schedule.is_first(height), height % 10 == 0);
            assert_eq!(schedule.is_last(height), height % 10 == 9);
        }
        assert_eq!(schedule.first_height(3), 30);
        assert_eq!(schedule.last_height(3), 39);
        assert_eq!(schedule.first_height(u64::MAX), u64::MAX);
    }

    #[test]
    fn a_change_renumbers_only_the_epochs_from_its_first() {
        let mut schedule = EpochSchedule::new(10);
        let before: Vec<u64> = (0..40).map(|h| schedule.epoch_of(h)).collect();
        schedule.change_from(4, 4);
        // Epochs 0..=3 keep their heights.
        assert_eq!(
            (0..40).map(|h| schedule.epoch_of(h)).collect::<Vec<_>>(),
            before
        );
        assert_eq!(schedule.first_height(4), 40);
        assert_eq!(schedule.last_height(4), 43);
        assert_eq!(schedule.epoch_of(44), 5);
        assert_eq!(schedule.first_height(6), 48);
        assert!(schedule.is_last(39) && schedule.is_first(40) && schedule.is_last(43));
        assert_eq!(schedule.length_of(3), 10);
        assert_eq!(schedule.length_of(9), 4);
        assert_eq!(schedule.shortest_from(0), 4);
        // Every height is in exactly one epoch, and epochs are contiguous.
        for epoch in 0..20 {
            assert_eq!(
                schedule.last_height(epoch) + 1,
                schedule.first_height(epoch + 1)
            );
            for h in schedule.first_height(epoch)..=schedule.last_height(epoch) {
                assert_eq!(schedule.epoch_of(h), epoch);
            }
        }
        // A second change from a later epoch starts where the first one's epochs put it.
        schedule.change_from(7, 25);
        assert_eq!(schedule.first_height(7), 52);
        assert_eq!(schedule.epoch_of(76), 7);
        assert_eq!(schedule.epoch_of(77), 8);
        assert_eq!(schedule.shortest_from(7), 25);
        assert_eq!(schedule.segments().len(), 3);
    }

    #[test]
    fn a_later_change_from_the_same_epoch_replaces_the_earlier_one() {
        let mut schedule = EpochSchedule::new(10);
        schedule.change_from(2, 5);
        schedule.change_from(2, 7);
        assert_eq!(schedule.segments().len(), 2);
        assert_eq!(schedule.length_of(2), 7);
        // Back to the length in force: no segment at all.
        schedule.change_from(2, 10);
        assert_eq!(schedule, EpochSchedule::new(10));
        // Replacing from an earlier epoch drops a change scheduled after it.
        schedule.change_from(5, 3);
        schedule.change_from(3, 20);
        assert_eq!(
            schedule.segments(),
            &[
                EpochSegment {
                    first_epoch: 0,
                    first_height: 0,
                    length: 10
                },
                EpochSegment {
                    first_epoch: 3,
                    first_height: 30,
                    length: 20
                }
            ]
        );
    }

    #[test]
    fn the_schedule_round_trips_and_inconsistent_bytes_are_refused() {
        let mut schedule = EpochSchedule::new(10);
        schedule.change_from(4, 4);
        schedule.change_from(9, 30);
        let bytes = schedule.encode();
        assert_eq!(bytes.len(), schedule.encode_size());
        assert_eq!(EpochSchedule::decode(bytes.clone()).unwrap(), schedule);
        // A segment that does not start where the one before it ends.
        let mut bad = schedule.clone();
        bad.segments[1].first_height += 1;
        assert!(EpochSchedule::decode(bad.encode()).is_err());
        // Zero length, empty, or not from genesis.
        let mut bad = schedule.clone();
        bad.segments[2].length = 0;
        assert!(EpochSchedule::decode(bad.encode()).is_err());
        assert!(EpochSchedule::decode(commonware_codec::Copying(&[0u8, 0, 0, 0][..])).is_err());
        let mut bad = schedule;
        bad.segments.remove(0);
        assert!(EpochSchedule::decode(bad.encode()).is_err());
    }
}
