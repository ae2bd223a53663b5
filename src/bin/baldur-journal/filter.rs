//! The filter flags shared by `query` and `count`, and their translation
//! into a `JournalQueryFilter` (or the filter given whole as JSON).

use std::collections::BTreeMap;

use anyhow::{Context as _, Result, bail};
use baldur_journal::{JournalQueryFilter, QueryOptions, Timestamp};
use clap::Args;

#[derive(Args, Debug)]
pub struct FilterArgs {
    /// Only this event type (repeat for any of several)
    #[arg(long = "event-type", value_name = "TYPE")]
    pub event_types: Vec<String>,
    /// Only this service name ("" for entries without one)
    #[arg(long, value_name = "NAME")]
    pub service: Option<String>,
    /// Only this region
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Events at or after this time (RFC 3339; without an offset, UTC)
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub since: Option<Timestamp>,
    /// Events before this time (exclusive)
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub until: Option<Timestamp>,
    /// Context condition: the string form of the context value under KEY equals VALUE
    /// (Python's str(): 503 and "503" match 503, true matches True,
    /// null and a missing key match None); repeat for several
    #[arg(long = "context", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub context: Vec<(String, String)>,
    /// The whole filter as a JournalQueryFilter JSON object (seed field names:
    /// event_types, service_name, start_time, end_time, region, limit, context_filters);
    /// replaces the flags above
    #[arg(
        long,
        value_name = "JSON",
        conflicts_with_all = ["event_types", "service", "region", "since", "until", "context"]
    )]
    pub filter_json: Option<String>,
    /// Only entries appended at or after this time (the journal's append time, not the
    /// event's; works with --filter-json too)
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub appended_since: Option<Timestamp>,
    /// Only entries appended before this time (exclusive)
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub appended_until: Option<Timestamp>,
    /// Only entries with a sequence above SEQ (the cursor of the next page)
    #[arg(long, value_name = "SEQ")]
    pub after: Option<u64>,
}

fn parse_time(text: &str) -> Result<Timestamp, String> {
    Timestamp::parse(text).map_err(|e| {
        format!("{e} (expected RFC 3339, like 2025-01-01T00:00:00Z or 2025-01-01T00:00:00+02:00)")
    })
}

fn parse_key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) => Ok((key.to_string(), value.to_string())),
        None => Err(format!("expected KEY=VALUE, got {text:?}")),
    }
}

impl FilterArgs {
    /// The conditions beyond the seed's filter: the cursor and the
    /// append-time window.
    pub fn to_options(&self) -> QueryOptions {
        QueryOptions {
            after_sequence: self.after,
            appended_since: self.appended_since,
            appended_until: self.appended_until,
        }
    }

    /// The filter; `limit` (when given) replaces the filter's own limit.
    pub fn to_filter(&self, limit: Option<usize>) -> Result<JournalQueryFilter> {
        let mut filter = match &self.filter_json {
            Some(json) => {
                // The library names the kind of non-objects by their first
                // byte; say plainly when the text is not JSON at all.
                if let Err(e) = serde_json::from_str::<serde_json::Value>(json) {
                    bail!("--filter-json: invalid filter: not JSON: {e}");
                }
                JournalQueryFilter::from_json(json).context("--filter-json")?
            }
            None => {
                let mut context_filters = BTreeMap::new();
                for (key, value) in &self.context {
                    if let Some(before) = context_filters.insert(key.clone(), value.clone())
                        && before != *value
                    {
                        bail!("--context {key} is given twice, with {before:?} and {value:?}");
                    }
                }
                JournalQueryFilter {
                    event_types: (!self.event_types.is_empty()).then(|| self.event_types.clone()),
                    service_name: self.service.clone(),
                    start_time: self.since,
                    end_time: self.until,
                    region: self.region.clone(),
                    context_filters: (!context_filters.is_empty()).then_some(context_filters),
                    ..JournalQueryFilter::default()
                }
            }
        };
        if let Some(limit) = limit {
            filter.limit = limit;
        }
        Ok(filter)
    }
}
