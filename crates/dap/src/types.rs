//! Basic types: draft-ietf-ppm-dap-18 §4.1 "Basic Type Definitions", §4.1.1 "Times, Durations
//! and Intervals", and the fixed-size identifiers of §4.2 (`TaskID`), §5.2 (`BatchID`) and
//! §4.6.4 (`checksum`).

use crate::codec::Within as _;
use crate::codec::{Decode, DecodeError, DecodeErrorKind, Encode, NonEmpty16, NonEmpty32, Reader};

fixed_id!(
    /// `opaque ReportID[16];` (§4.1): identifies a report within a task; also the VDAF nonce.
    ReportId,
    16,
    "ReportID"
);

fixed_id!(
    /// `opaque TaskID[32];` (§4.2): the globally unique ID of a task.
    TaskId,
    32,
    "TaskID"
);

fixed_id!(
    /// `opaque BatchID[32];` (§5.2): a batch chosen by the Leader in the leader-selected
    /// batch mode.
    BatchId,
    32,
    "BatchID"
);

fixed_id!(
    /// `opaque checksum[32];` of `AggregateShareReq` (§4.6.4): the XOR of the SHA-256 hashes
    /// of the report IDs in a batch (§4.5.4.3). This crate does not hash; it only carries
    /// the value and combines checksums with [`Checksum::xor`].
    Checksum,
    32,
    "checksum"
);

impl Checksum {
    /// Bitwise XOR of two checksums, the way batch buckets combine (§4.5.4.3).
    #[must_use]
    pub fn xor(mut self, other: &Checksum) -> Checksum {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a ^= b;
        }
        self
    }
}

/// `enum { collector(0), client(1), leader(2), helper(3), (255) } Role;` (§4.1).
///
/// Role has no registry, so a code outside 0..=3 is a decoding error. It appears on the
/// wire only inside HPKE `info` strings ([`crate::labels`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Role {
    /// `collector(0)`.
    Collector = 0,
    /// `client(1)`.
    Client = 1,
    /// `leader(2)`.
    Leader = 2,
    /// `helper(3)`.
    Helper = 3,
}

impl TryFrom<u8> for Role {
    type Error = DecodeError;
    fn try_from(v: u8) -> Result<Self, DecodeError> {
        match v {
            0 => Ok(Role::Collector),
            1 => Ok(Role::Client),
            2 => Ok(Role::Leader),
            3 => Ok(Role::Helper),
            _ => Err(DecodeError::new(
                "Role",
                DecodeErrorKind::UnknownCode { value: v.into() },
            )),
        }
    }
}

impl Encode for Role {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(*self as u8);
    }
    fn encoded_len(&self) -> usize {
        1
    }
}

impl Decode for Role {
    const NAME: &'static str = "Role";
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Role::try_from(r.u8(Self::NAME)?)
    }
}

int_newtype!(
    /// `uint8 HpkeConfigId;` (§4.1): names one of an Aggregator's (or the Collector's) HPKE
    /// configurations.
    HpkeConfigId(u8, u8)
);

/// `HpkeCiphertext` (§4.1): an HPKE-sealed message and what is needed to open it.
///
/// ```text
/// struct {
///   HpkeConfigId config_id;
///   opaque enc<1..2^16-1>;
///   opaque payload<1..2^32-1>;
/// } HpkeCiphertext;
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HpkeCiphertext {
    /// `config_id`: the HPKE configuration the message was sealed to.
    pub config_id: HpkeConfigId,
    /// `enc`: the encapsulated key from `SealBase()`.
    pub enc: NonEmpty16,
    /// `payload`: the ciphertext from `SealBase()`.
    pub payload: NonEmpty32,
}

impl Encode for HpkeCiphertext {
    fn encode(&self, out: &mut Vec<u8>) {
        self.config_id.encode(out);
        self.enc.encode(out);
        self.payload.encode(out);
    }
    fn encoded_len(&self) -> usize {
        1 + self.enc.encoded_len() + self.payload.encoded_len()
    }
}

impl Decode for HpkeCiphertext {
    const NAME: &'static str = "HpkeCiphertext";
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(HpkeCiphertext {
            config_id: HpkeConfigId::decode_from(r).within("HpkeCiphertext.config_id")?,
            enc: NonEmpty16::read(r, "HpkeCiphertext.enc")?,
            payload: NonEmpty32::read(r, "HpkeCiphertext.payload")?,
        })
    }
}

/// `struct {} Empty;` (§4.1): encodes to no bytes. Decoding it from a non-empty string fails
/// with trailing bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Empty;

impl Encode for Empty {
    fn encode(&self, _out: &mut Vec<u8>) {}
    fn encoded_len(&self) -> usize {
        0
    }
}

impl Decode for Empty {
    const NAME: &'static str = "Empty";
    fn decode_from(_r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Empty)
    }
}

codepoint!(
    /// `ReportError` (§4.1, registry §9.2.6): why one report failed in the upload or
    /// aggregation interaction.
    ///
    /// The registry may grow (§10), so codes the draft does not name decode as themselves
    /// rather than failing the whole message; [`ReportError::name`] tells known codes apart.
    ReportError(u8, u8) {
        /// `reserved(0)`.
        RESERVED = 0 => "reserved",
        /// `batch_collected(1)`.
        BATCH_COLLECTED = 1 => "batch_collected",
        /// `report_replayed(2)`.
        REPORT_REPLAYED = 2 => "report_replayed",
        /// `report_dropped(3)`.
        REPORT_DROPPED = 3 => "report_dropped",
        /// `hpke_unknown_config_id(4)`.
        HPKE_UNKNOWN_CONFIG_ID = 4 => "hpke_unknown_config_id",
        /// `hpke_decrypt_error(5)`.
        HPKE_DECRYPT_ERROR = 5 => "hpke_decrypt_error",
        /// `vdaf_verify_error(6)`.
        VDAF_VERIFY_ERROR = 6 => "vdaf_verify_error",
        /// `task_expired(7)`.
        TASK_EXPIRED = 7 => "task_expired",
        /// `invalid_message(8)`.
        INVALID_MESSAGE = 8 => "invalid_message",
        /// `report_too_early(9)`.
        REPORT_TOO_EARLY = 9 => "report_too_early",
        /// `task_not_started(10)`.
        TASK_NOT_STARTED = 10 => "task_not_started",
        /// `outdated_config(11)`.
        OUTDATED_CONFIG = 11 => "outdated_config",
    }
);

/// `opaque Url<1..2^16-1>;` (§4.1): a URL as ASCII bytes, never re-encoded.
pub type Url = NonEmpty16;

int_newtype!(
    /// `uint64 TimePrecision;` (§4.1.1): the task's time unit, in seconds.
    TimePrecision(u64, u64)
);

int_newtype!(
    /// `uint64 Time;` (§4.1.1): a number of `TimePrecision`s since the POSIX Epoch.
    Time(u64, u64)
);

int_newtype!(
    /// `uint64 Duration;` (§4.1.1): a number of `TimePrecision`s.
    Duration(u64, u64)
);

impl Time {
    /// The `Time` of a POSIX timestamp (seconds) under `precision`: the number of whole
    /// precisions since the Epoch, i.e. the timestamp truncated (§4.1.1). `None` when the
    /// precision is zero.
    pub fn from_posix_seconds(seconds: u64, precision: TimePrecision) -> Option<Time> {
        seconds.checked_div(precision.0).map(Time)
    }

    /// The POSIX timestamp (seconds) this time starts at, `None` on overflow.
    pub fn to_posix_seconds(self, precision: TimePrecision) -> Option<u64> {
        self.0.checked_mul(precision.0)
    }

    /// `self + duration`, `None` on overflow.
    pub fn checked_add(self, duration: Duration) -> Option<Time> {
        self.0.checked_add(duration.0).map(Time)
    }
}

impl Duration {
    /// The duration in seconds under `precision`, `None` on overflow.
    pub fn to_seconds(self, precision: TimePrecision) -> Option<u64> {
        self.0.checked_mul(precision.0)
    }
}

/// `Interval` (§4.1.1): the half-open span `[start, start + duration)`.
///
/// ```text
/// struct {
///   Time start;
///   Duration duration;
/// } Interval;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Interval {
    /// `start`: included.
    pub start: Time,
    /// `duration`: `start + duration` is excluded.
    pub duration: Duration,
}

impl Interval {
    /// An interval from `start` lasting `duration`.
    pub fn new(start: Time, duration: Duration) -> Self {
        Interval { start, duration }
    }

    /// `start + duration` (the first time after the interval), `None` on overflow.
    pub fn end(&self) -> Option<Time> {
        self.start.checked_add(self.duration)
    }

    /// Whether `t` falls within the interval (§4.1.1): not before `start` and before
    /// `start + duration`. An interval whose end overflows `u64` contains every time from
    /// `start` on.
    pub fn contains(&self, t: Time) -> bool {
        t >= self.start && self.end().is_none_or(|end| t < end)
    }
}

impl Encode for Interval {
    fn encode(&self, out: &mut Vec<u8>) {
        self.start.encode(out);
        self.duration.encode(out);
    }
    fn encoded_len(&self) -> usize {
        16
    }
}

impl Decode for Interval {
    const NAME: &'static str = "Interval";
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Interval {
            start: Time::decode_from(r).within("Interval.start")?,
            duration: Duration::decode_from(r).within("Interval.duration")?,
        })
    }
}
