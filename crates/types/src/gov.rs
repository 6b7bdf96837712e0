//! Governance payloads' parts: a proposal's parameter changes and a vote's option, with the
//! limits a proposal's text and changes are decoded within.

use crate::job::{read_str, str_encode_size, write_str};
use bytes::BufMut;
use commonware_codec::{Buf, EncodeSize, Error as CodecError, Read, ReadExt, Write};

/// The most parameter changes one proposal carries.
pub const GOV_CHANGES_MAX: usize = 16;
/// The longest parameter key (`section.name`), in bytes.
pub const GOV_KEY_SIZE_MAX: usize = 64;
/// The longest proposal title, in bytes of UTF-8.
pub const GOV_TITLE_SIZE_MAX: usize = 140;
/// The longest proposal description, in bytes of UTF-8.
pub const GOV_DESCRIPTION_SIZE_MAX: usize = 2_048;

/// One parameter change: `section.name` and its new value.
pub type ParamChange = (String, u128);

/// How a vote counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VoteOption {
    Yes,
    No,
    Abstain,
    /// No, and the proposal is bad enough that its deposit should burn.
    Veto,
}

impl VoteOption {
    /// Every option, in encoding order.
    pub const ALL: [VoteOption; 4] = [
        VoteOption::Yes,
        VoteOption::No,
        VoteOption::Abstain,
        VoteOption::Veto,
    ];

    /// Its lower-case name, as the CLI and the API spell it.
    pub fn name(self) -> &'static str {
        match self {
            VoteOption::Yes => "yes",
            VoteOption::No => "no",
            VoteOption::Abstain => "abstain",
            VoteOption::Veto => "veto",
        }
    }

    /// The option named `name` (`yes`, `no`, `abstain` or `veto`).
    pub fn parse(name: &str) -> Option<VoteOption> {
        VoteOption::ALL
            .into_iter()
            .find(|option| option.name() == name)
    }
}

impl Write for VoteOption {
    fn write(&self, buf: &mut impl BufMut) {
        (*self as u8).write(buf);
    }
}

impl EncodeSize for VoteOption {
    fn encode_size(&self) -> usize {
        1
    }
}

impl Read for VoteOption {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        let tag = u8::read(buf)?;
        VoteOption::ALL
            .get(usize::from(tag))
            .copied()
            .ok_or(CodecError::InvalidEnum(tag))
    }
}

/// Writes a proposal's changes: their count, then each key and value.
pub fn write_changes(changes: &[ParamChange], buf: &mut impl BufMut) {
    (changes.len() as u32).write(buf);
    for (key, value) in changes {
        write_str(key, buf);
        value.write(buf);
    }
}

/// The encoded size of [`write_changes`]'s output.
pub fn changes_encode_size(changes: &[ParamChange]) -> usize {
    4 + changes
        .iter()
        .map(|(key, _)| str_encode_size(key) + 16)
        .sum::<usize>()
}

/// Reads at most [`GOV_CHANGES_MAX`] changes written by [`write_changes`].
pub fn read_changes(buf: &mut impl Buf) -> Result<Vec<ParamChange>, CodecError> {
    let count = u32::read(buf)? as usize;
    if count > GOV_CHANGES_MAX {
        return Err(CodecError::InvalidLength(count));
    }
    (0..count)
        .map(|_| {
            Ok((
                read_str(buf, GOV_KEY_SIZE_MAX, "ParamChange")?,
                u128::read(buf)?,
            ))
        })
        .collect()
}

/// Writes a proposal's title and description.
pub fn write_text(title: &str, description: &str, buf: &mut impl BufMut) {
    write_str(title, buf);
    write_str(description, buf);
}

/// The encoded size of [`write_text`]'s output.
pub fn text_encode_size(title: &str, description: &str) -> usize {
    str_encode_size(title) + str_encode_size(description)
}

/// Reads a title and a description written by [`write_text`], within their limits.
pub fn read_text(buf: &mut impl Buf) -> Result<(String, String), CodecError> {
    Ok((
        read_str(buf, GOV_TITLE_SIZE_MAX, "GovPropose.title")?,
        read_str(buf, GOV_DESCRIPTION_SIZE_MAX, "GovPropose.description")?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{DecodeExt, Encode};

    #[test]
    fn options_round_trip_and_unknown_ones_are_refused() {
        for option in VoteOption::ALL {
            assert_eq!(VoteOption::decode(option.encode()).unwrap(), option);
            assert_eq!(VoteOption::parse(option.name()), Some(option));
        }
        assert!(VoteOption::decode(commonware_codec::Copying(&[4u8][..])).is_err());
        assert_eq!(VoteOption::parse("maybe"), None);
    }

    #[test]
    fn too_many_changes_are_refused_before_reading_them() {
        let changes: Vec<ParamChange> = (0..=GOV_CHANGES_MAX)
            .map(|i| (format!("chain.k{i}"), i as u128))
            .collect();
        let mut buf = Vec::new();
        write_changes(&changes, &mut buf);
        assert_eq!(buf.len(), changes_encode_size(&changes));
        assert!(read_changes(&mut commonware_codec::Copying(&buf[..])).is_err());
        let mut buf = Vec::new();
        write_changes(&changes[..GOV_CHANGES_MAX], &mut buf);
        assert_eq!(
            read_changes(&mut commonware_codec::Copying(&buf[..])).unwrap(),
            changes[..GOV_CHANGES_MAX]
        );
    }
}
