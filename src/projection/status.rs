//! DLQ entry statuses, and the sets of them that the fold's rules use.

use std::sync::Arc;

use crate::entry::Timestamp;

/// `pending`: waiting for a replay.
pub const PENDING: &str = "pending";
/// `replaying`: a replay attempt is in flight.
pub const REPLAYING: &str = "replaying";
/// `reviewing`: an operator is looking at it.
pub const REVIEWING: &str = "reviewing";
/// `replayed`: queued for a retry (the reference's legacy replay).
pub const REPLAYED: &str = "replayed";
/// `requires_review`: out of automatic attempts, or escalated.
pub const REQUIRES_REVIEW: &str = "requires_review";
/// `resolved`: done, successfully.
pub const RESOLVED: &str = "resolved";
/// `rejected`: done, refused by an operator.
pub const REJECTED: &str = "rejected";
/// `archived`: done and archived by the cleanup (or an operator).
pub const ARCHIVED: &str = "archived";
/// `expired`: done, its time ran out.
pub const EXPIRED: &str = "expired";
/// `permanently_failed`: done, never to be retried.
pub const PERMANENTLY_FAILED: &str = "permanently_failed";

/// Every status the reference defines, in its order.
pub const ALL_STATUSES: [&str; 10] = [
    PENDING,
    REPLAYING,
    REVIEWING,
    REPLAYED,
    REQUIRES_REVIEW,
    RESOLVED,
    REJECTED,
    ARCHIVED,
    EXPIRED,
    PERMANENTLY_FAILED,
];

/// The statuses a snapshot (`dlq_persist`) may never walk back to a
/// non-guarded status: the reference's terminal set plus `expired` and
/// `permanently_failed` (docs/STATISTICS.md, "The terminal-status guard").
pub const GUARDED_STATUSES: [&str; 5] = [RESOLVED, REJECTED, ARCHIVED, EXPIRED, PERMANENTLY_FAILED];

/// A status as the fold keeps it: the known ones as variants, anything
/// else verbatim.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Status {
    Pending,
    Replaying,
    Reviewing,
    Replayed,
    RequiresReview,
    Resolved,
    Rejected,
    Archived,
    Expired,
    PermanentlyFailed,
    Other(Arc<str>),
}

impl Status {
    pub(crate) fn parse(text: &str) -> Status {
        match text {
            PENDING => Status::Pending,
            REPLAYING => Status::Replaying,
            REVIEWING => Status::Reviewing,
            REPLAYED => Status::Replayed,
            REQUIRES_REVIEW => Status::RequiresReview,
            RESOLVED => Status::Resolved,
            REJECTED => Status::Rejected,
            ARCHIVED => Status::Archived,
            EXPIRED => Status::Expired,
            PERMANENTLY_FAILED => Status::PermanentlyFailed,
            other => Status::Other(other.into()),
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            Status::Pending => PENDING,
            Status::Replaying => REPLAYING,
            Status::Reviewing => REVIEWING,
            Status::Replayed => REPLAYED,
            Status::RequiresReview => REQUIRES_REVIEW,
            Status::Resolved => RESOLVED,
            Status::Rejected => REJECTED,
            Status::Archived => ARCHIVED,
            Status::Expired => EXPIRED,
            Status::PermanentlyFailed => PERMANENTLY_FAILED,
            Status::Other(text) => text,
        }
    }

    /// In [`GUARDED_STATUSES`].
    pub(crate) fn is_guarded(&self) -> bool {
        matches!(
            self,
            Status::Resolved
                | Status::Rejected
                | Status::Archived
                | Status::Expired
                | Status::PermanentlyFailed
        )
    }

    /// `resolved_at` after an event at `at` moved an entry to this status:
    /// an end of the entry's life sets it, a return to the queue clears
    /// it, archiving keeps it (or sets it when there was none), and an
    /// unknown status leaves it alone.
    pub(crate) fn resolved_at_after(
        &self,
        previous: Option<Timestamp>,
        at: Timestamp,
    ) -> Option<Timestamp> {
        match self {
            Status::Resolved | Status::Rejected | Status::Expired | Status::PermanentlyFailed => {
                Some(at)
            }
            Status::Pending
            | Status::Replaying
            | Status::Reviewing
            | Status::Replayed
            | Status::RequiresReview => None,
            Status::Archived => previous.or(Some(at)),
            Status::Other(_) => previous,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_round_trips_and_unknown_ones_are_kept() {
        for text in ALL_STATUSES {
            let status = Status::parse(text);
            assert!(!matches!(status, Status::Other(_)), "{text}");
            assert_eq!(status.as_str(), text);
        }
        assert_eq!(Status::parse("failed").as_str(), "failed");
        for text in GUARDED_STATUSES {
            assert!(Status::parse(text).is_guarded(), "{text}");
        }
        assert!(!Status::parse("pending").is_guarded());
        assert!(!Status::parse("failed").is_guarded());
    }
}
