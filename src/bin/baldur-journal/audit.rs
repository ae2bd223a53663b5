//! `audit ENTITY_ID`: an entity's audit trail, each link of its hash chain
//! checked, and a verdict: VALID (exit 0) or BROKEN AT the first bad link
//! (exit 1). Read-only.

use std::io::Write;

use anyhow::{Result, bail};
use baldur_journal::projection::{AuditTrailEntry, EntityAuditTrail};
use clap::Args;

use crate::Outcome;
use crate::open::Globals;
use crate::output::{self, maybe_time, time_to_second, write_columns};
use crate::stats::{self, ViewArgs};

#[derive(Args)]
#[command(
    about = "An entity's audit trail, each link checked; VALID, or BROKEN AT (exit 1)",
    long_about = "Prints the entity's life from creation on (domain, created and resolved \
times, current status) and every action in sequence order with its actor, the status it left, \
its hash and the hash it claims to follow, and whether that link holds: the first action \
follows no hash, each later one the hash of the action before. Then the verdict of the \
library's chain check: VALID, or BROKEN AT the first bad action (exit 1). --json prints the \
trail with the seed's field names (is_chain_valid included). An entity nothing is known about \
is an error (exit 2). Opens the journal read-only.",
    after_help = "Examples:
  baldur-journal audit dlq-17
  baldur-journal audit dlq-17 --json | jq .is_chain_valid
  baldur-journal audit dlq-17 --as-of 2025-01-01T00:00:00Z"
)]
pub struct AuditArgs {
    /// The entity's id
    entity_id: String,
    /// The entity's type
    #[arg(long, value_name = "T", default_value = "dlq_entry")]
    entity_type: String,
    #[command(flatten)]
    view: ViewArgs,
}

/// Whether the link into action `index` holds: the first follows no hash,
/// each later one the hash of the action before.
fn link_holds(entries: &[AuditTrailEntry], index: usize) -> bool {
    match index {
        0 => entries[0].previous_hash.is_none(),
        i => entries[i].previous_hash == entries[i - 1].hash_chain,
    }
}

/// The first action whose link does not hold (1-based), if any.
pub fn first_broken(trail: &EntityAuditTrail) -> Option<usize> {
    (0..trail.entries.len())
        .find(|&i| !link_holds(&trail.entries, i))
        .map(|i| i + 1)
}

fn hash_text(hash: Option<&str>) -> String {
    hash.map_or_else(|| "no hash".to_string(), |h| format!("{h:?}"))
}

fn short(hash: &Option<String>) -> String {
    match hash {
        None => "-".into(),
        Some(h) if h.chars().count() > 16 => format!("{}…", h.chars().take(16).collect::<String>()),
        Some(h) => h.clone(),
    }
}

pub fn run_audit(globals: &Globals, args: &AuditArgs) -> Result<Outcome> {
    let statistics = stats::open_statistics(globals, args.view.as_of)?;
    let trail = statistics
        .repository
        .get_audit_trail_by_entity(&args.entity_id, &args.entity_type)?;
    if trail.entries.is_empty() && trail.created_at.is_none() {
        bail!(
            "no audit trail for {} {:?}: no such entity in the journal",
            args.entity_type,
            args.entity_id
        );
    }
    let valid = trail.is_chain_valid();
    let mut out = output::stdout();
    if args.view.json {
        serde_json::to_writer(&mut out, &trail)?;
        writeln!(out)?;
    } else {
        write_trail(&mut out, &trail, valid)?;
    }
    out.flush()?;
    Ok(if valid {
        Outcome::Success
    } else {
        Outcome::ProblemsFound
    })
}

fn write_trail(out: &mut impl Write, trail: &EntityAuditTrail, valid: bool) -> Result<()> {
    writeln!(out, "entity      {} {}", trail.entity_type, trail.entity_id)?;
    writeln!(out, "domain      {}", trail.domain)?;
    writeln!(out, "created     {}", maybe_time(trail.created_at))?;
    writeln!(out, "resolved    {}", maybe_time(trail.resolved_at))?;
    writeln!(out, "status      {}", trail.current_status)?;
    writeln!(out)?;
    let rows: Vec<Vec<String>> = trail
        .entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            vec![
                (i + 1).to_string(),
                time_to_second(e.timestamp),
                e.action.clone(),
                e.actor_id.clone().unwrap_or_else(|| "-".into()),
                e.status.clone().unwrap_or_else(|| "-".into()),
                short(&e.hash_chain),
                short(&e.previous_hash),
                if link_holds(&trail.entries, i) {
                    "ok"
                } else {
                    "BROKEN"
                }
                .into(),
                e.details.clone().unwrap_or_default(),
            ]
        })
        .collect();
    write_columns(
        out,
        &[
            "#", "TIME", "ACTION", "ACTOR", "STATUS", "HASH", "FOLLOWS", "LINK", "DETAILS",
        ],
        &rows,
        &[true, false, false, false, false, false, false, false, false],
    )?;
    writeln!(out)?;
    if valid {
        writeln!(out, "VALID ({} actions)", trail.total_entries())?;
    } else {
        match first_broken(trail) {
            Some(n) => {
                let e = &trail.entries[n - 1];
                let expected = if n == 1 {
                    None
                } else {
                    trail.entries[n - 2].hash_chain.as_deref()
                };
                writeln!(
                    out,
                    "BROKEN AT {n} ({} {}): it follows {}, the action before has {}",
                    time_to_second(e.timestamp),
                    e.action,
                    hash_text(e.previous_hash.as_deref()),
                    hash_text(expected),
                )?;
            }
            None => writeln!(out, "BROKEN (the chain check failed)")?,
        }
    }
    Ok(())
}
