//! `audit ENTITY_ID`: an entity's audit trail with every entry verified by
//! the library's `verify_audit_trail` (each hash recomputed from the
//! stored content, HMAC under the keys given with `--key-file`, each link
//! checked), and a verdict: VALID (exit 0) or BROKEN AT the first bad entry
//! (exit 1). Also the audit-chain half of `verify`. Read-only.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use baldur_journal::EventJournal;
use baldur_journal::projection::chain::{ChainAnchors, verify_chains, verify_chains_anchored};
use baldur_journal::projection::{
    AuditKey, AuditKeyring, AuditVerification, EntityAuditTrail, EntryCheck, JournalStatistics,
    SnapshotConfig,
};
use clap::Args;

use crate::Outcome;
use crate::open::{self, Globals};
use crate::output::{self, maybe_time, time_to_second, write_columns};
use crate::stats::{self, ViewArgs};

/// The entity type of DLQ entries, the one the statistics keep trails of.
const DLQ_ENTRY: &str = "dlq_entry";

#[derive(Args)]
#[command(
    about = "An entity's audit trail, every hash recomputed; VALID, or BROKEN AT (exit 1)",
    long_about = "Prints the entity's life from creation on (domain, created and resolved \
times, current status) and every action in sequence order with its actor, the status it left, \
its hash, and the library's verification of it (verify_audit_trail, docs/AUDIT.md): the hash \
recomputed from the stored content (HMAC-SHA256 under the key its hash_key_id names, when \
keyed) and the link to the entity's previous hash checked. Each action shows VALID, \
`unchained` (written without a chain, before any chained action: nothing to check), or why it \
fails: hash_mismatch, broken_link, unknown_key, unkeyed, missing_hash, malformed, \
unchained_after_chain. Then the verdict: VALID, or BROKEN AT n (reason) naming the first \
failing action (exit 1).\n\nKeyed trails: give each key with --key-file ID=PATH (the secret is \
the file's bytes exactly, a trailing newline included). Without the key, a keyed action \
cannot be vouched for: it shows `unknown_key ID`, the verdict is BROKEN AT it with a hint to \
pass --key-file, and the exit status is 1. With any key given, a keyless chained action fails \
as `unkeyed` (written, or forged, without the key).\n\n--json prints the trail with the seed's \
field names, is_chain_valid set to the verdict, plus `verification` (one {sequence, key_id, \
check} per action) and `first_bad_entry` (1-based, or null). An entity nothing is known about \
is an error (exit 2). Opens the journal read-only.",
    after_help = "Examples:
  baldur-journal audit dlq-17
  baldur-journal audit dlq-17 --key-file 2026-11=/etc/baldur/audit-2026-11.key
  baldur-journal audit dlq-17 --json | jq .is_chain_valid
  baldur-journal audit dlq-17 --as-of 2025-01-01T00:00:00Z"
)]
pub struct AuditArgs {
    /// The entity's id
    entity_id: String,
    /// The entity's type
    #[arg(long, value_name = "T", default_value = DLQ_ENTRY)]
    entity_type: String,
    #[command(flatten)]
    keys: KeyArgs,
    #[command(flatten)]
    view: ViewArgs,
}

/// `--key-file ID=PATH`, shared with `verify`.
#[derive(Args, Clone)]
pub struct KeyArgs {
    /// An HMAC key to verify keyed hashes with: its id and a file holding the secret (its
    /// bytes exactly); repeat for rotated keys
    #[arg(long = "key-file", value_name = "ID=PATH", value_parser = parse_key_file)]
    key_files: Vec<(String, PathBuf)>,
}

/// Parses `ID=PATH`.
pub fn parse_key_file(text: &str) -> Result<(String, PathBuf), String> {
    match text.split_once('=') {
        Some((id, path)) if !id.is_empty() && !path.is_empty() => {
            Ok((id.to_string(), PathBuf::from(path)))
        }
        _ => Err(format!("expected ID=PATH, got {text:?}")),
    }
}

impl KeyArgs {
    /// The keys, each read from its file.
    pub fn keyring(&self) -> Result<AuditKeyring> {
        let mut keys = AuditKeyring::new();
        for (id, path) in &self.key_files {
            let secret = std::fs::read(path)
                .with_context(|| format!("reading key {id:?} from {}", path.display()))?;
            let key = AuditKey::new(id.clone(), secret)
                .with_context(|| format!("key {id:?} from {}", path.display()))?;
            keys.insert(key);
        }
        Ok(keys)
    }
}

/// Read-only statistics that verify with `keys`, restored from the snapshot
/// `snapshot` names when it is valid. Chaining is set off
/// explicitly: nothing is written through them.
pub fn verifier_with<J: EventJournal + ?Sized + 'static>(
    journal: Arc<J>,
    keys: AuditKeyring,
    snapshot: Option<SnapshotConfig>,
) -> Result<JournalStatistics<J>> {
    let mut builder = JournalStatistics::builder(journal)
        .audit_chain(false)
        .audit_verification_keys(keys);
    if let Some(config) = snapshot {
        builder = builder.snapshot(config);
    }
    Ok(builder.build()?)
}

/// How an entry's check reads: VALID, or its reason.
pub fn check_text(check: &EntryCheck) -> String {
    match check {
        EntryCheck::Valid => "VALID".into(),
        EntryCheck::Unchained => "unchained".into(),
        EntryCheck::Malformed(why) => format!("malformed: {why}"),
        EntryCheck::MissingHash => "missing_hash".into(),
        EntryCheck::HashMismatch => "hash_mismatch".into(),
        EntryCheck::UnknownKey(id) => format!("unknown_key {id}"),
        EntryCheck::Unkeyed => "unkeyed".into(),
        EntryCheck::BrokenLink => "broken_link".into(),
        EntryCheck::UnchainedAfterChain => "unchained_after_chain".into(),
    }
}

fn short(hash: &Option<String>) -> String {
    match hash {
        None => "-".into(),
        Some(h) if h.chars().count() > 16 => format!("{}…", h.chars().take(16).collect::<String>()),
        Some(h) => h.clone(),
    }
}

pub fn run_audit(globals: &Globals, args: &AuditArgs) -> Result<Outcome> {
    let keys = args.keys.keyring()?;
    let opened = open::open_read(globals)?;
    // A disk journal's valid snapshot is read (never written), so only the
    // records after it are folded, and an entry whose first records were
    // dropped by retention is still known.
    let snapshot = match &opened {
        open::Opened::Disk(journal) => Some(SnapshotConfig::for_disk(journal)),
        open::Opened::Other(_) => None,
    };
    let journal = opened.shared();
    let bar = output::progress(None, "folding the journal", "");
    let verified = verifier_with(journal.clone(), keys, snapshot)
        .and_then(|lib| Ok(lib.verify_audit_trail(&args.entity_id, &args.entity_type)?));
    bar.finish_and_clear();
    let mut verified = verified?;
    if let Some(as_of) = args.view.as_of {
        // The trail as it was then is a prefix of today's, and each check
        // depends only on the entries before it: the same prefix verifies.
        let then = stats::fold(journal, Some(as_of), None)?
            .repository
            .get_audit_trail_by_entity(&args.entity_id, &args.entity_type)?;
        verified.entries.truncate(then.entries.len());
        verified.trail = then;
    }
    let trail = &verified.trail;
    if trail.entries.is_empty() && trail.created_at.is_none() {
        bail!(
            "no audit trail for {} {:?}: no such entity in the journal",
            args.entity_type,
            args.entity_id
        );
    }
    let valid = verified.is_chain_valid();
    let mut out = output::stdout();
    if args.view.json {
        let mut json = serde_json::to_value(trail)?;
        json["is_chain_valid"] = valid.into();
        json["verification"] = serde_json::to_value(&verified.entries)?;
        json["first_bad_entry"] = verified.first_bad_entry().map(|i| i + 1).into();
        serde_json::to_writer(&mut out, &json)?;
        writeln!(out)?;
    } else {
        write_trail(&mut out, &verified)?;
    }
    out.flush()?;
    Ok(if valid {
        Outcome::Success
    } else {
        Outcome::ProblemsFound
    })
}

/// The verdict line: `VALID (...)` or `BROKEN AT n (reason ...)`.
pub fn verdict(verified: &AuditVerification) -> String {
    let trail: &EntityAuditTrail = &verified.trail;
    match verified.first_bad_entry() {
        None => {
            let chained = verified
                .entries
                .iter()
                .filter(|e| e.check == EntryCheck::Valid)
                .count();
            if chained == 0 {
                format!(
                    "VALID ({} actions, none chained: no hash to recompute)",
                    trail.total_entries()
                )
            } else {
                format!(
                    "VALID ({} actions, {chained} hashes recomputed)",
                    trail.total_entries()
                )
            }
        }
        Some(i) => {
            let check = &verified.entries[i];
            let action = trail.entries.get(i);
            let hint = match &check.check {
                EntryCheck::UnknownKey(id) => format!(": pass --key-file {id}=PATH to verify it"),
                _ => String::new(),
            };
            format!(
                "BROKEN AT {} ({} at sequence {}{}{hint})",
                i + 1,
                check_text(&check.check),
                check.sequence,
                action.map_or(String::new(), |a| format!(
                    ", {} {}",
                    a.action,
                    time_to_second(a.timestamp)
                )),
            )
        }
    }
}

fn write_trail(out: &mut impl Write, verified: &AuditVerification) -> Result<()> {
    let trail = &verified.trail;
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
            let check = verified.entries.get(i);
            vec![
                (i + 1).to_string(),
                check.map_or("-".into(), |c| c.sequence.to_string()),
                time_to_second(e.timestamp),
                e.action.clone(),
                e.actor_id.clone().unwrap_or_else(|| "-".into()),
                e.status.clone().unwrap_or_else(|| "-".into()),
                short(&e.hash_chain),
                check.map_or("-".into(), |c| check_text(&c.check)),
                e.details.clone().unwrap_or_default(),
            ]
        })
        .collect();
    write_columns(
        out,
        &[
            "#", "SEQUENCE", "TIME", "ACTION", "ACTOR", "STATUS", "HASH", "CHECK", "DETAILS",
        ],
        &rows,
        &[true, true, false, false, false, false, false, false, false],
    )?;
    writeln!(out)?;
    writeln!(out, "{}", verdict(verified))?;
    Ok(())
}

/// What checking every audit chain of a journal found, as `verify` says it.
pub struct ChainsReport {
    /// One line per broken chain (its first failure).
    pub problems: Vec<String>,
    /// Entities with chained records.
    pub chains: u64,
    /// Chains whose first failure is a key the verifier was not given.
    pub unverifiable: u64,
    /// Chains whose first links were dropped by retention, verified from
    /// their first retained link.
    pub below_mark: u64,
}

/// The retention mark of a disk journal and its snapshot's chain heads,
/// for [`check_all_chains`] (nothing when no segment was dropped).
pub fn anchors_of(journal: &baldur_journal::DiskJournal) -> Result<ChainAnchors> {
    let mark = journal.retention_mark()?;
    let config = baldur_journal::projection::SnapshotConfig::for_disk(journal);
    Ok(baldur_journal::projection::chain_anchors(
        &config, journal, mark,
    )?)
}

/// Verifies every audit chain of the journal in one pass with the
/// library's verifier (`projection::chain::verify_chains`): every record
/// whose context carries a chain field, whatever its event type or the
/// spelling of its keys; per chain only its last hash and position are
/// kept.
pub fn check_all_chains(
    journal: Arc<dyn EventJournal>,
    keys: AuditKeyring,
    anchors: ChainAnchors,
) -> Result<ChainsReport> {
    let report = if anchors.mark.is_some() {
        verify_chains_anchored(&*journal, &keys, anchors)?
    } else {
        verify_chains(&*journal, &keys)?
    };
    let mut problems: Vec<String> = report
        .failures
        .iter()
        .map(|failure| match &failure.entity {
            Some(id) => format!(
                "audit chain of {DLQ_ENTRY} {id:?}: broken at sequence {} (entry {}: {})",
                failure.sequence,
                failure.position,
                check_text(&failure.check)
            ),
            None => format!(
                "audit chain record at sequence {}: {}",
                failure.sequence,
                check_text(&failure.check)
            ),
        })
        .collect();
    let unlisted = report.failed_chains - report.failures.len() as u64;
    if unlisted > 0 {
        problems.push(format!("{unlisted} more broken audit chains (not listed)"));
    }
    Ok(ChainsReport {
        problems,
        chains: report.chains,
        unverifiable: report.unverifiable,
        below_mark: report.chains_below_mark,
    })
}
