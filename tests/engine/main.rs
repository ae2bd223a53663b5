//! The engine and the library's API, one behaviour per module (the
//! journals, their files, recovery, queries, the formats and the layer
//! map): one test binary, so each test does not link the crate again.

mod append_if_latest;
mod bad_input;
mod block_summaries;
mod concurrency;
mod conformance;
mod crash_kill;
mod fault_injection;
mod fuzz_corpora;
mod golden;
mod layers;
mod model;
mod open_cost;
mod pystr_semantics;
mod query_options;
mod read_only_follow;
mod retention;
mod segment_skipping;
mod verify_and_info;
mod writer_queue_and_panics;
