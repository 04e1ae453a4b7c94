//! The TLS presentation language codec ([RFC 8446, Section 3]) that every DAP message uses
//! (draft-ietf-ppm-dap-18, §3.4 "Presentation Language").
//!
//! * [`Encode`] writes a value; encoding cannot fail because every bounded field is held in
//!   a type ([`Opaque`], [`List`]) that refuses out-of-range lengths when it is built.
//! * [`Decode`] reads a value from a [`Reader`]; [`Decode::decode`] reads a whole message and
//!   refuses trailing bytes.
//! * A length prefix is checked against the bytes actually left before anything is
//!   allocated, and a vector's elements are decoded one by one from its own bytes, so a
//!   hostile prefix cannot make the decoder reserve memory the input does not hold.
//!
//! [RFC 8446, Section 3]: https://www.rfc-editor.org/rfc/rfc8446#section-3

use std::fmt;

/// Largest value of an 8-bit length prefix.
pub const U8_MAX: usize = 0xff;
/// Largest value of a 16-bit length prefix.
pub const U16_MAX: usize = 0xffff;
/// Largest value of a 32-bit length prefix.
pub const U32_MAX: usize = 0xffff_ffff;

/// A value with a canonical encoding.
pub trait Encode {
    /// Appends the encoding of `self` to `out`.
    fn encode(&self, out: &mut Vec<u8>);

    /// The number of bytes [`Encode::encode`] appends.
    fn encoded_len(&self) -> usize;

    /// The encoding of `self` in a new buffer.
    fn get_encoded(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out
    }
}

/// A value that can be read back from its encoding.
pub trait Decode: Sized {
    /// The type's name as the draft spells it, used in [`DecodeError`]s.
    const NAME: &'static str;

    /// Reads one value from the front of `r`, leaving the rest.
    ///
    /// Types whose last field is a vector sized by the HTTP message
    /// (`UploadRequest`, `AggregationJobResp`, ...) consume everything left in `r`.
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError>;

    /// Decodes a complete message: all of `bytes`, with nothing left over.
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let v = Self::decode_from(&mut r)?;
        r.finish(Self::NAME)?;
        Ok(v)
    }
}

/// What was wrong with the bytes, without the field path (see [`DecodeError`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input ended inside a fixed-size field.
    #[error("truncated: needs {needed} bytes, {available} left")]
    Truncated {
        /// Bytes the field needs.
        needed: usize,
        /// Bytes that were left.
        available: usize,
    },
    /// A length prefix claims more bytes than are left (in the message, or in the
    /// enclosing vector).
    #[error("length prefix {len} runs past the end ({available} bytes left)")]
    LengthPastEnd {
        /// The prefix's value.
        len: usize,
        /// Bytes that were left after the prefix.
        available: usize,
    },
    /// A vector's length is outside the `<floor..ceiling>` range the draft declares.
    #[error("length {len} outside the declared range {min}..={max}")]
    LengthOutOfRange {
        /// The length that was read.
        len: usize,
        /// The declared floor.
        min: usize,
        /// The declared ceiling.
        max: usize,
    },
    /// An enum code the draft gives no meaning to where the code decides how the rest of
    /// the message is laid out (or, for [`crate::Role`], a closed enum).
    #[error("unknown code {value}")]
    UnknownCode {
        /// The code that was read.
        value: u64,
    },
    /// Bytes were left after a complete value.
    #[error("{count} trailing bytes")]
    TrailingBytes {
        /// How many bytes were left.
        count: usize,
    },
    /// A required field (an extension the batch mode needs) is absent.
    #[error("missing")]
    Missing,
}

/// A decoding failure, naming the field where it happened.
///
/// [`DecodeError::field`] is the innermost field, spelled `Type.field` as in the draft
/// (`"HpkeCiphertext.enc"`); [`DecodeError::path`] adds the enclosing fields, outermost first
/// (`"Report.helper_encrypted_input_share/HpkeCiphertext.enc"`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {kind}", self.path())]
pub struct DecodeError {
    field: &'static str,
    outer: Vec<&'static str>,
    kind: DecodeErrorKind,
}

impl DecodeError {
    /// A new error in `field`.
    pub fn new(field: &'static str, kind: DecodeErrorKind) -> Self {
        DecodeError {
            field,
            outer: Vec::new(),
            kind,
        }
    }

    /// The innermost field, e.g. `"HpkeCiphertext.enc"`.
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// What was wrong.
    pub fn kind(&self) -> &DecodeErrorKind {
        &self.kind
    }

    /// The enclosing fields, outermost first, then the field itself, joined with `/`.
    pub fn path(&self) -> String {
        let mut s = String::new();
        for f in self.outer.iter().rev() {
            s.push_str(f);
            s.push('/');
        }
        s.push_str(self.field);
        s
    }

    /// Records that the error happened inside the enclosing field `outer`.
    pub fn within(mut self, outer: &'static str) -> Self {
        self.outer.push(outer);
        self
    }
}

/// Adds the enclosing field to an error on its way out.
pub(crate) trait Within<T> {
    /// See [`DecodeError::within`].
    fn within(self, outer: &'static str) -> Result<T, DecodeError>;
}

impl<T> Within<T> for Result<T, DecodeError> {
    fn within(self, outer: &'static str) -> Result<T, DecodeError> {
        self.map_err(|e| e.within(outer))
    }
}

/// A value whose length is outside the range its field allows, refused when it was built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("length {len} outside the allowed range {min}..={max}")]
pub struct LengthError {
    /// The length given.
    pub len: usize,
    /// The smallest length allowed.
    pub min: usize,
    /// The largest length allowed.
    pub max: usize,
}

/// A cursor over input bytes.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Whether everything has been read.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Takes everything left.
    pub fn take_rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    /// Fails with [`DecodeErrorKind::TrailingBytes`] (in `name`) if anything is left.
    pub fn finish(&self, name: &'static str) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::new(
                name,
                DecodeErrorKind::TrailingBytes {
                    count: self.buf.len(),
                },
            ))
        }
    }

    /// Takes exactly `n` bytes for `field`.
    pub fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if n > self.buf.len() {
            return Err(DecodeError::new(
                field,
                DecodeErrorKind::Truncated {
                    needed: n,
                    available: self.buf.len(),
                },
            ));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// Takes a fixed-size array for `field`.
    pub fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let b = self.take(N, field)?;
        let mut a = [0u8; N];
        a.copy_from_slice(b);
        Ok(a)
    }

    /// Reads a `uint8`.
    pub fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(u8::from_be_bytes(self.array(field)?))
    }

    /// Reads a big-endian `uint16`.
    pub fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }

    /// Reads a big-endian `uint32`.
    pub fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    /// Reads a big-endian `uint64`.
    pub fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }

    /// Reads the body of a vector `<min..max>`: a length prefix as wide as `max` needs
    /// (RFC 8446, Section 3.4), checked against `min`, `max` and the bytes left, then the
    /// bytes it covers. Nothing is allocated.
    pub fn vector(
        &mut self,
        min: usize,
        max: usize,
        field: &'static str,
    ) -> Result<&'a [u8], DecodeError> {
        let len = match prefix_width(max) {
            1 => usize::from(self.u8(field)?),
            2 => usize::from(self.u16(field)?),
            _ => {
                let v = self.u32(field)?;
                // Lossless on every platform whose usize holds the remaining input.
                usize::try_from(v).unwrap_or(usize::MAX)
            }
        };
        if len < min || len > max {
            return Err(DecodeError::new(
                field,
                DecodeErrorKind::LengthOutOfRange { len, min, max },
            ));
        }
        if len > self.buf.len() {
            return Err(DecodeError::new(
                field,
                DecodeErrorKind::LengthPastEnd {
                    len,
                    available: self.buf.len(),
                },
            ));
        }
        self.take(len, field)
    }
}

/// Bytes of the length prefix of a vector whose ceiling is `max` (RFC 8446, Section 3.4).
pub(crate) const fn prefix_width(max: usize) -> usize {
    if max <= U8_MAX {
        1
    } else if max <= U16_MAX {
        2
    } else {
        4
    }
}

/// Writes a length prefix of `width` bytes. `len` fits: every caller holds its length in a
/// type that checked it against the ceiling.
fn put_prefix(out: &mut Vec<u8>, width: usize, len: usize) {
    let be = (len as u64).to_be_bytes();
    // width is 1, 2 or 4: the last `width` bytes of the big-endian u64.
    out.extend_from_slice(be.get(8 - width..).unwrap_or(&[]));
}

/// `opaque field<MIN..MAX>`: a byte string whose length the type guarantees to be in
/// `MIN..=MAX`, encoded with a length prefix as wide as `MAX` needs.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Opaque<const MIN: usize, const MAX: usize>(Vec<u8>);

/// `opaque x<0..2^16-1>`.
pub type Opaque16 = Opaque<0, U16_MAX>;
/// `opaque x<1..2^16-1>`.
pub type NonEmpty16 = Opaque<1, U16_MAX>;
/// `opaque x<0..2^32-1>`.
pub type Opaque32 = Opaque<0, U32_MAX>;
/// `opaque x<1..2^32-1>`.
pub type NonEmpty32 = Opaque<1, U32_MAX>;
/// `opaque x<1..2^8-1>`.
pub type NonEmpty8 = Opaque<1, U8_MAX>;

impl<const MIN: usize, const MAX: usize> Opaque<MIN, MAX> {
    /// The bytes, if their length is in `MIN..=MAX`.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, LengthError> {
        let bytes = bytes.into();
        if bytes.len() < MIN || bytes.len() > MAX {
            return Err(LengthError {
                len: bytes.len(),
                min: MIN,
                max: MAX,
            });
        }
        Ok(Opaque(bytes))
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }

    /// The bytes, by value.
    pub fn into_vec(self) -> Vec<u8> {
        self.0
    }

    /// Number of bytes (without the prefix).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no bytes (only possible when `MIN` is 0).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Reads one from `r`, naming `field` in errors.
    pub fn read(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        Ok(Opaque(r.vector(MIN, MAX, field)?.to_vec()))
    }
}

impl<const MAX: usize> Default for Opaque<0, MAX> {
    fn default() -> Self {
        Opaque(Vec::new())
    }
}

impl<const MIN: usize, const MAX: usize> AsRef<[u8]> for Opaque<MIN, MAX> {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl<const MIN: usize, const MAX: usize> TryFrom<Vec<u8>> for Opaque<MIN, MAX> {
    type Error = LengthError;
    fn try_from(v: Vec<u8>) -> Result<Self, LengthError> {
        Self::new(v)
    }
}

impl<const MIN: usize, const MAX: usize> TryFrom<&[u8]> for Opaque<MIN, MAX> {
    type Error = LengthError;
    fn try_from(v: &[u8]) -> Result<Self, LengthError> {
        Self::new(v)
    }
}

impl<const MIN: usize, const MAX: usize> fmt::Debug for Opaque<MIN, MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 32;
        f.write_str("0x")?;
        for b in self.0.iter().take(SHOWN) {
            write!(f, "{b:02x}")?;
        }
        if self.0.len() > SHOWN {
            write!(f, "..({} bytes)", self.0.len())?;
        }
        Ok(())
    }
}

impl<const MIN: usize, const MAX: usize> Encode for Opaque<MIN, MAX> {
    fn encode(&self, out: &mut Vec<u8>) {
        put_prefix(out, prefix_width(MAX), self.0.len());
        out.extend_from_slice(&self.0);
    }
    fn encoded_len(&self) -> usize {
        prefix_width(MAX) + self.0.len()
    }
}

impl<const MIN: usize, const MAX: usize> Decode for Opaque<MIN, MAX> {
    const NAME: &'static str = "opaque";
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Self::read(r, Self::NAME)
    }
}

/// `T field<MIN..MAX>`: a vector of structures whose total encoded length (in bytes, as in
/// RFC 8446) the type guarantees to be in `MIN..=MAX`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct List<T, const MIN: usize, const MAX: usize>(Vec<T>);

impl<T: Encode, const MIN: usize, const MAX: usize> List<T, MIN, MAX> {
    /// The items, if their encoding's length is in `MIN..=MAX` bytes.
    pub fn new(items: Vec<T>) -> Result<Self, LengthError> {
        let len = items.iter().map(Encode::encoded_len).sum::<usize>();
        if len < MIN || len > MAX {
            return Err(LengthError {
                len,
                min: MIN,
                max: MAX,
            });
        }
        Ok(List(items))
    }

    /// Reads one from `r`: the vector's bytes, then items until they are used up. An item
    /// that runs past the vector's end is an error.
    pub fn read(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError>
    where
        T: Decode,
    {
        let mut inner = Reader::new(r.vector(MIN, MAX, field)?);
        Ok(List(read_to_end(&mut inner, field)?))
    }
}

impl<T, const MIN: usize, const MAX: usize> List<T, MIN, MAX> {
    /// The items.
    pub fn as_slice(&self) -> &[T] {
        &self.0
    }

    /// The items, by value.
    pub fn into_vec(self) -> Vec<T> {
        self.0
    }
}

impl<T, const MAX: usize> Default for List<T, 0, MAX> {
    fn default() -> Self {
        List(Vec::new())
    }
}

impl<T, const MIN: usize, const MAX: usize> std::ops::Deref for List<T, MIN, MAX> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T: fmt::Debug, const MIN: usize, const MAX: usize> fmt::Debug for List<T, MIN, MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.iter()).finish()
    }
}

impl<T: Encode, const MIN: usize, const MAX: usize> Encode for List<T, MIN, MAX> {
    fn encode(&self, out: &mut Vec<u8>) {
        let len = self.0.iter().map(Encode::encoded_len).sum::<usize>();
        put_prefix(out, prefix_width(MAX), len);
        for item in &self.0 {
            item.encode(out);
        }
    }
    fn encoded_len(&self) -> usize {
        prefix_width(MAX) + self.0.iter().map(Encode::encoded_len).sum::<usize>()
    }
}

impl<T: Encode + Decode, const MIN: usize, const MAX: usize> Decode for List<T, MIN, MAX> {
    const NAME: &'static str = "vector";
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Self::read(r, Self::NAME)
    }
}

/// Reads items until `r` is used up: `T items[message_length]`, a vector whose length is the
/// rest of the HTTP message (no prefix).
pub fn read_to_end<T: Decode>(
    r: &mut Reader<'_>,
    field: &'static str,
) -> Result<Vec<T>, DecodeError> {
    let mut items = Vec::new();
    while !r.is_empty() {
        let before = r.remaining();
        items.push(T::decode_from(r).within(field)?);
        // Every item of the draft takes at least one byte, so `items` never outgrows the
        // input; a zero-length item type would never finish, so it is refused.
        if r.remaining() == before {
            return Err(DecodeError::new(
                field,
                DecodeErrorKind::TrailingBytes { count: before },
            ));
        }
    }
    Ok(items)
}

/// Encoded length of a prefix-less vector.
pub(crate) fn items_len<T: Encode>(items: &[T]) -> usize {
    items.iter().map(Encode::encoded_len).sum()
}

macro_rules! int_encode {
    ($($t:ty),*) => {$(
        impl Encode for $t {
            fn encode(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_be_bytes());
            }
            fn encoded_len(&self) -> usize {
                std::mem::size_of::<$t>()
            }
        }
    )*};
}
int_encode!(u8, u16, u32, u64);

impl Decode for u8 {
    const NAME: &'static str = "uint8";
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.u8(Self::NAME)
    }
}
impl Decode for u16 {
    const NAME: &'static str = "uint16";
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.u16(Self::NAME)
    }
}
impl Decode for u32 {
    const NAME: &'static str = "uint32";
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.u32(Self::NAME)
    }
}
impl Decode for u64 {
    const NAME: &'static str = "uint64";
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.u64(Self::NAME)
    }
}
