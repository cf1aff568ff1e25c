//! Byte-level reading and writing shared by the header and block codecs.
//!
//! Every read is bounds-checked and returns [`DecodeError`]; nothing here can panic on input.

use alloc::vec::Vec;

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended before the value did.
    #[error("input ends too early")]
    UnexpectedEnd,
    /// Bytes were left over after the value.
    #[error("{0} bytes left over after the value")]
    TrailingBytes(usize),
    /// A length prefix used more bytes than needed (Bitcoin's CompactSize must be minimal).
    #[error("length prefix is not minimally encoded")]
    NonCanonicalLength,
    /// A length is larger than the input could hold or a limit allows.
    #[error("{what} is {len} bytes, more than the {max} allowed")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its length.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// An entry's kind byte is unknown.
    #[error("unknown entry kind {0}")]
    UnknownEntryKind(u8),
    /// Text is not valid UTF-8.
    #[error("text is not valid UTF-8")]
    InvalidUtf8,
    /// An output's key is not a valid x-only public key.
    #[error("an output pays a key that is not a valid public key")]
    InvalidKey,
}

/// A cursor over a byte slice.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len()
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.bytes.len() {
            return Err(DecodeError::UnexpectedEnd);
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// Bitcoin's CompactSize, rejecting non-minimal encodings so every value has one encoding.
    pub(crate) fn compact_size(&mut self) -> Result<u64, DecodeError> {
        let (value, min) = match self.u8()? {
            0xfd => (u64::from(u16::from_le_bytes(self.array()?)), 0xfd),
            0xfe => (u64::from(self.u32()?), 0x1_0000),
            0xff => (self.u64()?, 0x1_0000_0000),
            small => return Ok(u64::from(small)),
        };
        if value < min {
            return Err(DecodeError::NonCanonicalLength);
        }
        Ok(value)
    }

    /// A CompactSize length followed by that many bytes, at most `max`.
    pub(crate) fn bytes_with_len(
        &mut self,
        what: &'static str,
        max: usize,
    ) -> Result<&'a [u8], DecodeError> {
        let len = self.compact_size()?;
        if len > max as u64 {
            return Err(DecodeError::TooLarge {
                what,
                len,
                max: max as u64,
            });
        }
        self.take(len as usize)
    }

    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        match self.bytes.len() {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }
}

/// Appends Bitcoin's CompactSize encoding of `n`.
pub(crate) fn write_compact_size(out: &mut Vec<u8>, n: u64) {
    match n {
        0..=0xfc => out.push(n as u8),
        0xfd..=0xffff => {
            out.push(0xfd);
            out.extend_from_slice(&(n as u16).to_le_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0xfe);
            out.extend_from_slice(&(n as u32).to_le_bytes());
        }
        _ => {
            out.push(0xff);
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
}

/// How many bytes [`write_compact_size`] uses for `n`.
pub(crate) fn compact_size_len(n: u64) -> usize {
    match n {
        0..=0xfc => 1,
        0xfd..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}
