//! VDAF configuration encodings: draft-ietf-ppm-dap-18 Appendix B, carried in
//! `TaskConfiguration.vdaf_configuration` (§4.2). Only the encodings: this crate runs no VDAF.

use crate::codec::{Decode, DecodeError, DecodeErrorKind, Encode, Opaque16, Reader, Within as _};
use crate::task::{TaskConfiguration, VdafType};
use crate::types::Empty;

/// `Prio3SumConfig` (Appendix B.2).
///
/// ```text
/// struct {
///     uint64 max_measurement;
/// } Prio3SumConfig;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Prio3SumConfig {
    /// `max_measurement`: the largest summand.
    pub max_measurement: u64,
}

/// `Prio3SumVecConfig` (Appendix B.3).
///
/// ```text
/// struct {
///     uint32 length;
///     uint64 max_measurement;
///     uint32 chunk_length;
/// } Prio3SumVecConfig;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Prio3SumVecConfig {
    /// `length`: the vector length.
    pub length: u32,
    /// `max_measurement`: the largest summand.
    pub max_measurement: u64,
    /// `chunk_length`: the proof chunk size.
    pub chunk_length: u32,
}

/// `Prio3HistogramConfig` (Appendix B.4).
///
/// ```text
/// struct {
///     uint32 length;
///     uint32 chunk_length;
/// } Prio3HistogramConfig;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Prio3HistogramConfig {
    /// `length`: the number of buckets.
    pub length: u32,
    /// `chunk_length`: the proof chunk size.
    pub chunk_length: u32,
}

/// `Prio3MultihotCountVecConfig` (Appendix B.5).
///
/// ```text
/// struct {
///     uint32 length;
///     uint32 chunk_length;
///     uint64 max_weight;
/// } Prio3MultihotCountVecConfig;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Prio3MultihotCountVecConfig {
    /// `length`: the vector length.
    pub length: u32,
    /// `chunk_length`: the proof chunk size.
    pub chunk_length: u32,
    /// `max_weight`: the most true entries a measurement may have.
    pub max_weight: u64,
}

/// `Poplar1Config` (Appendix B.6).
///
/// ```text
/// struct {
///     uint16 bits;
/// } Poplar1Config;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Poplar1Config {
    /// `bits`: the length of input strings, in bits.
    pub bits: u16,
}

macro_rules! config_struct {
    ($ty:ident, $len:expr, $( $field:ident: $read:ident ),+) => {
        impl Encode for $ty {
            fn encode(&self, out: &mut Vec<u8>) {
                $( self.$field.encode(out); )+
            }
            fn encoded_len(&self) -> usize {
                $len
            }
        }

        impl Decode for $ty {
            const NAME: &'static str = stringify!($ty);
            fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok($ty {
                    $( $field: r.$read(concat!(stringify!($ty), ".", stringify!($field)))?, )+
                })
            }
        }
    };
}

config_struct!(Prio3SumConfig, 8, max_measurement: u64);
config_struct!(Prio3SumVecConfig, 16, length: u32, max_measurement: u64, chunk_length: u32);
config_struct!(Prio3HistogramConfig, 8, length: u32, chunk_length: u32);
config_struct!(Prio3MultihotCountVecConfig, 16, length: u32, chunk_length: u32, max_weight: u64);
config_struct!(Poplar1Config, 2, bits: u16);

/// A VDAF of draft-irtf-cfrg-vdaf-19 with its configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VdafConfig {
    /// Prio3Count: no parameters, encoded as `Empty` (Appendix B.1).
    Prio3Count,
    /// Prio3Sum.
    Prio3Sum(Prio3SumConfig),
    /// Prio3SumVec.
    Prio3SumVec(Prio3SumVecConfig),
    /// Prio3Histogram.
    Prio3Histogram(Prio3HistogramConfig),
    /// Prio3MultihotCountVec.
    Prio3MultihotCountVec(Prio3MultihotCountVecConfig),
    /// Poplar1.
    Poplar1(Poplar1Config),
}

impl VdafConfig {
    /// The `vdaf_type` codepoint.
    pub fn vdaf_type(&self) -> VdafType {
        match self {
            VdafConfig::Prio3Count => VdafType::PRIO3_COUNT,
            VdafConfig::Prio3Sum(_) => VdafType::PRIO3_SUM,
            VdafConfig::Prio3SumVec(_) => VdafType::PRIO3_SUM_VEC,
            VdafConfig::Prio3Histogram(_) => VdafType::PRIO3_HISTOGRAM,
            VdafConfig::Prio3MultihotCountVec(_) => VdafType::PRIO3_MULTIHOT_COUNT_VEC,
            VdafConfig::Poplar1(_) => VdafType::POPLAR1,
        }
    }

    /// The `vdaf_configuration` bytes.
    pub fn vdaf_configuration(&self) -> Opaque16 {
        let bytes = match self {
            VdafConfig::Prio3Count => Empty.get_encoded(),
            VdafConfig::Prio3Sum(c) => c.get_encoded(),
            VdafConfig::Prio3SumVec(c) => c.get_encoded(),
            VdafConfig::Prio3Histogram(c) => c.get_encoded(),
            VdafConfig::Prio3MultihotCountVec(c) => c.get_encoded(),
            VdafConfig::Poplar1(c) => c.get_encoded(),
        };
        // At most 16 bytes.
        Opaque16::new(bytes).unwrap_or_default()
    }

    /// Decodes `vdaf_configuration` as the layout `vdaf_type` names. Fails on a VDAF type
    /// without an encoding in Appendix B and on bytes that are not exactly its layout.
    pub fn parse(vdaf_type: VdafType, vdaf_configuration: &[u8]) -> Result<Self, DecodeError> {
        const FIELD: &str = "TaskConfiguration.vdaf_configuration";
        let c = vdaf_configuration;
        Ok(match vdaf_type {
            VdafType::PRIO3_COUNT => Empty::decode(c)
                .within(FIELD)
                .map(|Empty| VdafConfig::Prio3Count)?,
            VdafType::PRIO3_SUM => VdafConfig::Prio3Sum(Decode::decode(c).within(FIELD)?),
            VdafType::PRIO3_SUM_VEC => VdafConfig::Prio3SumVec(Decode::decode(c).within(FIELD)?),
            VdafType::PRIO3_HISTOGRAM => {
                VdafConfig::Prio3Histogram(Decode::decode(c).within(FIELD)?)
            }
            VdafType::PRIO3_MULTIHOT_COUNT_VEC => {
                VdafConfig::Prio3MultihotCountVec(Decode::decode(c).within(FIELD)?)
            }
            VdafType::POPLAR1 => VdafConfig::Poplar1(Decode::decode(c).within(FIELD)?),
            other => {
                return Err(DecodeError::new(
                    "TaskConfiguration.vdaf_type",
                    DecodeErrorKind::UnknownCode {
                        value: other.0.into(),
                    },
                ))
            }
        })
    }
}

impl TaskConfiguration {
    /// The task's VDAF and its configuration ([`VdafConfig::parse`]).
    pub fn vdaf(&self) -> Result<VdafConfig, DecodeError> {
        VdafConfig::parse(self.vdaf_type, self.vdaf_configuration.as_slice())
    }
}
