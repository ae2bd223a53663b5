//! The statistics, folded from the journal: one test binary (the shared
//! fixtures in `common` compile once), one module per subject.

mod common;
use baldur_test_support::common as disk_common;

mod archive_purge;
mod as_of;
mod async_persist;
mod circuit_breakers;
mod empty;
mod events;
mod model;
mod order_by;
mod pagination;
mod percentages;
mod persist_guard;
mod read_only;
mod recent_activity;
mod sla;
mod snapshot_fold;
mod unknown_status;
