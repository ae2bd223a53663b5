//! The command line, driven as a user would (the `baldur-journal` binary):
//! one test binary, so the helpers in `cli_common` compile once; one
//! module per command or subject.

mod cli_common;

mod cli_append;
mod cli_archive_purge;
mod cli_audit;
mod cli_bench;
mod cli_consistency;
mod cli_copy;
mod cli_dashboard;
mod cli_demo;
mod cli_import_export;
mod cli_import_resume;
mod cli_info;
mod cli_input_bounds;
mod cli_query;
mod cli_range_latest;
mod cli_read_only;
mod cli_report;
mod cli_segments;
mod cli_sequence_max;
mod cli_sql;
mod cli_stats;
mod cli_stats_db;
mod cli_stats_sync;
mod cli_tail;
mod cli_usage;
mod cli_verify;
mod cli_verify_head;
mod recovery_damage;
mod redis_cli;
mod salvage;
#[cfg(feature = "postgres")]
mod sql_postgres;
