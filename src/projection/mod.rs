//! Projections folded over the journal: the DLQ statistics repository.
//!
//! - [`StatisticsRepository`]: the seed's statistics interface, with its
//!   DTOs ([`StatusCounts`], [`PaginatedResult`], [`EntityAuditTrail`], ...).
//! - [`JournalStatistics`]: the repository as an incremental fold over any
//!   [`EventJournal`](crate::EventJournal); [`StatisticsView`] is the same
//!   fold "as of" a past sequence or time.
//! - [`Timeline`]: the statistics over time, day by day, from one pass
//!   ([`JournalStatistics::timeline`]), for reports.
//! - [`NullStatistics`]: empty answers, never an error.
//! - [`events`]: the event vocabulary (docs/EVENTS.md) and typed
//!   constructors for a DLQ runtime to append.
//!
//! docs/STATISTICS.md states every rule, method by method.

pub mod audit;
pub mod chain;
mod clock;
mod dto;
pub mod events;
pub mod hmac;
mod journal_stats;
mod null;
mod persister;
mod reads;
mod repository;
mod snapshot;
pub(crate) mod state;
pub mod status;
pub mod timeline;
mod trail;
mod view;
mod wire;

pub use audit::{AuditKey, AuditKeyring, AuditVerification, EntryCheck, EntryVerification};
pub use clock::{Clock, ManualClock, SystemClock};
pub use dto::{
    AuditTrailEntry, CircuitBreakerInfo, CircuitBreakerSummary, CleanupStats, DomainDistribution,
    EntityAuditTrail, EntryDetail, EntrySummary, FailureTypeDistribution, PaginatedResult,
    RecentActivity, StatusCounts,
};
pub use events::{
    AuditLink, BreakerEvent, BreakerTransition, LifecycleEvent, LifecycleKind, STATISTICS_SOURCE,
    StoreEvent,
};
pub use journal_stats::{JournalStatistics, JournalStatisticsBuilder, PersistMode};
pub use null::NullStatistics;
pub use persister::{
    ASYNC_PERSIST_TASK_NAME, DEFAULT_PERSIST_QUEUE_DEPTH, PERSIST_QUEUE_DEPTH_MAX,
};
pub use reads::ORDER_BY_COLUMNS;
pub use repository::{
    DEFAULT_ARCHIVE_DAYS, DEFAULT_DISTRIBUTION_LIMIT, DEFAULT_ORDER_BY, DEFAULT_PAGE_SIZE,
    DEFAULT_RECENT_DAYS, DEFAULT_RECENT_HOURS, DEFAULT_RESOLUTION_DAYS, DEFAULT_SLA_STATUSES,
    DEFAULT_SLA_THRESHOLD_HOURS, EntryListQuery, PAGE_SIZE_MAX, PurgeSelection,
    StatisticsRepository,
};
pub use snapshot::{
    DEFAULT_SNAPSHOT_INTERVAL, SNAPSHOT_FILE, SNAPSHOT_FORMAT_VERSION, SnapshotConfig,
    chain_anchors, snapshot_sequence,
};
pub use state::FoldSummary;
pub use timeline::{Timeline, TimelineOptions};
pub use view::StatisticsView;
