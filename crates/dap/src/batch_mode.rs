//! The batch modes of draft-ietf-ppm-dap-18 §5: the layouts of `Query.config` and
//! `BatchSelector.config` for time-interval (§5.1.1, §5.1.2) and leader-selected (§5.2.1,
//! §5.2.3), with typed views of [`Query`] and [`BatchSelector`].
//!
//! The leader-selected mode's aggregation job extension (§5.2.2) is
//! [`crate::AggregationJobExtension::leader_selected_batch_id`].

use crate::codec::{Decode, DecodeError, DecodeErrorKind, Encode, Opaque16, Reader, Within as _};
use crate::collect::{BatchSelector, Query};
use crate::task::BatchMode;
use crate::types::{BatchId, Empty, Interval};

/// `TimeIntervalQueryConfig` (§5.1.1): `Query.config` in the time-interval mode.
///
/// ```text
/// struct {
///   Interval batch_interval;
/// } TimeIntervalQueryConfig;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimeIntervalQueryConfig {
    /// `batch_interval`: the interval the Collector asks for.
    pub batch_interval: Interval,
}

/// `TimeIntervalBatchSelectorConfig` (§5.1.2): `BatchSelector.config` in the time-interval
/// mode.
///
/// ```text
/// struct {
///   Interval batch_interval;
/// } TimeIntervalBatchSelectorConfig;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimeIntervalBatchSelectorConfig {
    /// `batch_interval`.
    pub batch_interval: Interval,
}

impl TimeIntervalBatchSelectorConfig {
    /// Whether the selector's interval lies within the query's (§5.1.2): its start is not
    /// before the query's start and its end is not after the query's end. Ends are computed
    /// without overflow.
    pub fn is_consistent_with(&self, query: &TimeIntervalQueryConfig) -> bool {
        let end = |i: &Interval| u128::from(i.start.0) + u128::from(i.duration.0);
        self.batch_interval.start >= query.batch_interval.start
            && end(&self.batch_interval) <= end(&query.batch_interval)
    }
}

/// `LeaderSelectedBatchSelectorConfig` (§5.2.3): `BatchSelector.config` in the
/// leader-selected mode.
///
/// ```text
/// struct {
///   BatchID batch_id;
/// } LeaderSelectedBatchSelectorConfig;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LeaderSelectedBatchSelectorConfig {
    /// `batch_id`: the batch the Leader chose.
    pub batch_id: BatchId,
}

macro_rules! one_field {
    ($ty:ident, $field:ident: $fty:ty, $len:expr, $path:literal) => {
        impl Encode for $ty {
            fn encode(&self, out: &mut Vec<u8>) {
                self.$field.encode(out);
            }
            fn encoded_len(&self) -> usize {
                $len
            }
        }

        impl Decode for $ty {
            const NAME: &'static str = stringify!($ty);
            fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok($ty {
                    $field: <$fty>::decode_from(r).within($path)?,
                })
            }
        }
    };
}

one_field!(
    TimeIntervalQueryConfig,
    batch_interval: Interval,
    16,
    "TimeIntervalQueryConfig.batch_interval"
);
one_field!(
    TimeIntervalBatchSelectorConfig,
    batch_interval: Interval,
    16,
    "TimeIntervalBatchSelectorConfig.batch_interval"
);
one_field!(
    LeaderSelectedBatchSelectorConfig,
    batch_id: BatchId,
    32,
    "LeaderSelectedBatchSelectorConfig.batch_id"
);

/// A [`Query`] of a batch mode this crate knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TypedQuery {
    /// `time_interval` (§5.1.1).
    TimeInterval(TimeIntervalQueryConfig),
    /// `leader_selected` (§5.2.1): the config is empty; the Leader picks the next batch.
    LeaderSelected,
}

/// A [`BatchSelector`] of a batch mode this crate knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TypedBatchSelector {
    /// `time_interval` (§5.1.2).
    TimeInterval(TimeIntervalBatchSelectorConfig),
    /// `leader_selected` (§5.2.3).
    LeaderSelected(LeaderSelectedBatchSelectorConfig),
}

fn config_of(v: &impl Encode) -> Opaque16 {
    // Every config here is at most 32 bytes.
    Opaque16::new(v.get_encoded()).unwrap_or_default()
}

fn unknown_mode(field: &'static str, mode: BatchMode) -> DecodeError {
    DecodeError::new(
        field,
        DecodeErrorKind::UnknownCode {
            value: mode.0.into(),
        },
    )
}

impl Query {
    /// A time-interval query for `batch_interval`.
    pub fn time_interval(batch_interval: Interval) -> Query {
        TypedQuery::TimeInterval(TimeIntervalQueryConfig { batch_interval }).into()
    }

    /// A leader-selected query (empty config).
    pub fn leader_selected() -> Query {
        TypedQuery::LeaderSelected.into()
    }

    /// The query with its config decoded. Fails on a batch mode this crate does not know
    /// (including `reserved(0)`) and on a config that is not exactly the mode's layout.
    pub fn typed(&self) -> Result<TypedQuery, DecodeError> {
        let config = self.config.as_slice();
        match self.batch_mode {
            BatchMode::TIME_INTERVAL => TimeIntervalQueryConfig::decode(config)
                .within("Query.config")
                .map(TypedQuery::TimeInterval),
            BatchMode::LEADER_SELECTED => Empty::decode(config)
                .within("Query.config")
                .map(|Empty| TypedQuery::LeaderSelected),
            other => Err(unknown_mode("Query.batch_mode", other)),
        }
    }
}

impl From<TypedQuery> for Query {
    fn from(q: TypedQuery) -> Query {
        match q {
            TypedQuery::TimeInterval(c) => Query {
                batch_mode: BatchMode::TIME_INTERVAL,
                config: config_of(&c),
            },
            TypedQuery::LeaderSelected => Query {
                batch_mode: BatchMode::LEADER_SELECTED,
                config: Opaque16::default(),
            },
        }
    }
}

impl BatchSelector {
    /// A time-interval batch selector for `batch_interval`.
    pub fn time_interval(batch_interval: Interval) -> BatchSelector {
        TypedBatchSelector::TimeInterval(TimeIntervalBatchSelectorConfig { batch_interval }).into()
    }

    /// A leader-selected batch selector for `batch_id`.
    pub fn leader_selected(batch_id: BatchId) -> BatchSelector {
        TypedBatchSelector::LeaderSelected(LeaderSelectedBatchSelectorConfig { batch_id }).into()
    }

    /// The selector with its config decoded. Fails on a batch mode this crate does not know
    /// and on a config that is not exactly the mode's layout.
    pub fn typed(&self) -> Result<TypedBatchSelector, DecodeError> {
        let config = self.config.as_slice();
        match self.batch_mode {
            BatchMode::TIME_INTERVAL => TimeIntervalBatchSelectorConfig::decode(config)
                .within("BatchSelector.config")
                .map(TypedBatchSelector::TimeInterval),
            BatchMode::LEADER_SELECTED => LeaderSelectedBatchSelectorConfig::decode(config)
                .within("BatchSelector.config")
                .map(TypedBatchSelector::LeaderSelected),
            other => Err(unknown_mode("BatchSelector.batch_mode", other)),
        }
    }
}

impl From<TypedBatchSelector> for BatchSelector {
    fn from(s: TypedBatchSelector) -> BatchSelector {
        match s {
            TypedBatchSelector::TimeInterval(c) => BatchSelector {
                batch_mode: BatchMode::TIME_INTERVAL,
                config: config_of(&c),
            },
            TypedBatchSelector::LeaderSelected(c) => BatchSelector {
                batch_mode: BatchMode::LEADER_SELECTED,
                config: config_of(&c),
            },
        }
    }
}
