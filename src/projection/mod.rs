//! Projections folded over the journal: the DLQ statistics repository.
