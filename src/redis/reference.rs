//! The baldur layout (docs/REDIS.md "Baldur layout"): the reference
//! implementation's keys, `{prefix}:YYYY-MM` sorted sets of JSON members
//! scored by sequence and the `{prefix}:sequence` counter, read and written
//! so that Python services running baldur-framework share the journal.

use std::collections::VecDeque;

use crate::entry::{JournalEntry, JournalQueryFilter, JournalQueryResult, Timestamp};
use crate::error::{Error, Result};
use crate::filter::{self, ResultBuilder};
use crate::journal::EntryIter;
use crate::redis::RedisJournal;
use crate::redis::decode::{View, decode};
use crate::redis::native::Mode;

/// Sequences are sorted-set scores (doubles) here: exact up to 2^53.
const MAX_SEQUENCE: u64 = 1 << 53;
/// Members per `ZRANGE`.
const READ_CHUNK: usize = 1000;
/// Entries per append script call.
const NANOS_PER_DAY: i64 = 86_400 * 1_000_000_000;

/// KEYS: counter, then one month key per entry. ARGV: mode, param, TTL
/// seconds (0: none), n, then each entry's JSON after `{"sequence":`.
const APPEND_SCRIPT: &str = r#"#!lua
local MAX = 9007199254740992
local latest = tonumber(redis.call('GET', KEYS[1]) or '0')
local mode = ARGV[1]
local param = tonumber(ARGV[2])
local first
if mode == 'at' then
  if param <= latest then return {'nonmonotonic', string.format('%d', latest)} end
  first = param
elseif mode == 'if_latest' then
  if param ~= latest then return {'conflict', string.format('%d', latest)} end
  first = latest + 1
else
  first = latest + 1
end
local n = tonumber(ARGV[4])
if first + n - 1 > MAX then return {'overflow', string.format('%d', latest)} end
local ttl = tonumber(ARGV[3])
for i = 1, n do
  local seq = first + i - 1
  local key = KEYS[1 + i]
  redis.call('ZADD', key, seq, '{"sequence":' .. string.format('%d', seq) .. ARGV[4 + i])
  if ttl > 0 and redis.call('TTL', key) < 0 then redis.call('EXPIRE', key, ttl) end
end
redis.call('SET', KEYS[1], string.format('%d', first + n - 1))
return {'ok', string.format('%d', first)}
"#;

fn append_script() -> &'static redis::Script {
    static SCRIPT: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
    SCRIPT.get_or_init(|| redis::Script::new(APPEND_SCRIPT))
}

/// Python's `datetime.isoformat()` of an aware UTC datetime: microseconds
/// (the sub-microsecond part is dropped), shown only when non-zero.
pub(crate) fn isoformat(t: Timestamp) -> Result<String> {
    let micros = t.as_unix_nanos().div_euclid(1000);
    let ts = jiff::Timestamp::from_microsecond(micros).map_err(|e| Error::InvalidTimestamp {
        input: t.to_string(),
        reason: e.to_string(),
    })?;
    let fraction = micros.rem_euclid(1_000_000);
    let base = ts.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    Ok(if fraction == 0 {
        format!("{base}+00:00")
    } else {
        format!("{base}.{fraction:06}+00:00")
    })
}

/// The `YYYY-MM` of a timestamp in UTC.
fn month(t: Timestamp) -> String {
    let ts = jiff::Timestamp::from_nanosecond(i128::from(t.as_unix_nanos()))
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    ts.strftime("%Y-%m").to_string()
}

/// The member's JSON after `{"sequence":`: the reference's keys and order,
/// then our `appended_at` (which the reference ignores).
fn member_after_sequence(entry: &JournalEntry, appended_at: Timestamp) -> Result<String> {
    let s = |v: &str| serde_json::to_string(v).unwrap_or_default();
    Ok(format!(
        r#","event_type":{},"source":{},"timestamp":"{}","service_name":{},"context":{},"region":{},"tier_id":{},"appended_at":"{appended_at}"}}"#,
        s(&entry.event_type),
        s(&entry.source),
        isoformat(entry.timestamp)?,
        s(&entry.service_name),
        entry.context.as_str(),
        s(&entry.region),
        s(&entry.tier_id),
    ))
}

/// Escapes glob characters for `SCAN MATCH`.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn is_month(suffix: &str) -> bool {
    let b = suffix.as_bytes();
    b.len() == 7
        && b[4] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || c.is_ascii_digit())
}

/// Each key's members in score order, refilled as the merge consumes them.
struct KeyCursor {
    key: String,
    next: u64,
    buffer: VecDeque<JournalEntry>,
    exhausted: bool,
}

impl RedisJournal {
    fn counter_key(&self) -> String {
        format!("{}:sequence", self.prefix)
    }

    /// The month keys that exist, sorted.
    fn month_keys(&self) -> Result<Vec<String>> {
        let pattern = format!("{}:????-??", glob_escape(&self.prefix));
        let mut cursor = 0u64;
        let mut keys = Vec::new();
        loop {
            let (next, batch): (u64, Vec<String>) =
                self.pool
                    .run(&format!("SCAN MATCH {pattern}"), false, |con| {
                        redis::cmd("SCAN")
                            .arg(cursor)
                            .arg("MATCH")
                            .arg(&pattern)
                            .arg("COUNT")
                            .arg(200)
                            .query(con)
                    })?;
            keys.extend(batch.into_iter().filter(|k| {
                k.strip_prefix(&self.prefix)
                    .and_then(|r| r.strip_prefix(':'))
                    .is_some_and(is_month)
            }));
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    pub(crate) fn baldur_destroy(&self) -> Result<()> {
        let mut keys = self.month_keys()?;
        keys.push(self.counter_key());
        self.pool.run("DEL", true, |con| {
            redis::cmd("DEL").arg(&keys).query::<u64>(con)
        })?;
        Ok(())
    }

    pub(crate) fn baldur_append(
        &self,
        mode: Mode,
        entries: &[JournalEntry],
    ) -> Result<Option<u64>> {
        if let Mode::At(s) | Mode::IfLatest(s) = mode
            && s >= MAX_SEQUENCE
        {
            return Err(Error::InvalidEntry(format!(
                "sequence {s}: the baldur layout keeps sequences as sorted-set scores, exact only below 2^53"
            )));
        }
        let now = Timestamp::now();
        let ttl = self.options.retention.map_or(0, |r| r.as_secs().max(1));
        let mut keys = vec![self.counter_key()];
        for entry in entries {
            keys.push(format!("{}:{}", self.prefix, month(entry.timestamp)));
        }
        let mut args = vec![
            mode.name().to_string(),
            mode.param().to_string(),
            ttl.to_string(),
            entries.len().to_string(),
        ];
        for entry in entries {
            let appended_at = match mode {
                Mode::At(_) => entry.appended_at.unwrap_or(now),
                _ => now,
            };
            args.push(member_after_sequence(entry, appended_at)?);
        }
        let reply = self.write_script(
            format!(
                "EVALSHA baldur append script ({} entries) on {}",
                entries.len(),
                self.counter_key()
            ),
            append_script(),
            &keys,
            &args,
        )?;
        self.script_reply(mode, &reply)
    }

    pub(crate) fn baldur_latest(&self) -> Result<u64> {
        let key = self.counter_key();
        let value: Option<String> = self.pool.run(&format!("GET {key}"), false, |con| {
            redis::cmd("GET").arg(&key).query(con)
        })?;
        match value {
            None => Ok(0),
            Some(v) => v.parse().map_err(|_| Error::RedisData {
                server: self.pool.server.clone(),
                key,
                reason: format!("not a sequence: {v:?}"),
            }),
        }
    }

    fn bad_member(&self, key: &str, reason: &str, text: &str) -> Error {
        Error::RedisData {
            server: self.pool.server.clone(),
            key: key.to_string(),
            reason: format!("{reason}: {}", text.chars().take(120).collect::<String>()),
        }
    }

    /// Decodes a member and hands its view to `each`.
    fn with_member<T>(
        &self,
        key: &str,
        text: &str,
        each: impl FnOnce(&View<'_>) -> T,
    ) -> Result<T> {
        match decode(text) {
            Ok(view) => Ok(each(&view)),
            Err(reason) => Err(self.bad_member(key, &reason, text)),
        }
    }

    /// Members of `key` with `from <= score < end`, at most `count`.
    fn read_raw(&self, key: &str, from: u64, end: u64, count: usize) -> Result<Vec<String>> {
        let members: Vec<String> =
            self.pool
                .run(&format!("ZRANGE {key} BYSCORE"), false, |con| {
                    redis::cmd("ZRANGE")
                        .arg(key)
                        .arg(from)
                        .arg(format!("({end}"))
                        .arg("BYSCORE")
                        .arg("LIMIT")
                        .arg(0)
                        .arg(count)
                        .query(con)
                })?;
        self.pool.count_read(members.len());
        Ok(members)
    }

    /// Members of `key` with `from <= score < end`, at most `count`, decoded.
    fn read_scores(
        &self,
        key: &str,
        from: u64,
        end: u64,
        count: usize,
    ) -> Result<Vec<JournalEntry>> {
        self.read_raw(key, from, end, count)?
            .iter()
            .map(|m| self.with_member(key, m, |v| v.to_entry()))
            .collect()
    }

    /// Every member of `key`, in chunks, as views.
    fn read_all(&self, key: &str, mut each: impl FnMut(&View<'_>, &str)) -> Result<()> {
        let mut from = 0u64;
        loop {
            let chunk = self.read_raw(key, from, u64::MAX, READ_CHUNK)?;
            let mut last = None;
            for member in &chunk {
                last = Some(self.with_member(key, member, |v| {
                    each(v, member);
                    v.sequence()
                })?);
            }
            match last.and_then(|l| l.checked_add(1)) {
                Some(next) if chunk.len() == READ_CHUNK => from = next,
                _ => return Ok(()),
            }
        }
    }

    pub(crate) fn baldur_range_iter(&self, start: u64, end: u64) -> Result<EntryIter<'_>> {
        let mut cursors: Vec<KeyCursor> = if end > start {
            self.month_keys()?
                .into_iter()
                .map(|key| KeyCursor {
                    key,
                    next: start,
                    buffer: VecDeque::new(),
                    exhausted: false,
                })
                .collect()
        } else {
            Vec::new()
        };
        let mut failed = false;
        Ok(Box::new(std::iter::from_fn(move || {
            if failed {
                return None;
            }
            for c in cursors.iter_mut() {
                if c.buffer.is_empty() && !c.exhausted {
                    match self.read_scores(&c.key, c.next, end, READ_CHUNK) {
                        Ok(chunk) => {
                            c.exhausted = chunk.len() < READ_CHUNK;
                            match chunk.last().and_then(|e| e.sequence.checked_add(1)) {
                                Some(next) => c.next = next,
                                None => c.exhausted = true,
                            }
                            c.buffer.extend(chunk);
                        }
                        Err(e) => {
                            failed = true;
                            return Some(Err(e));
                        }
                    }
                }
            }
            let best = cursors
                .iter_mut()
                .filter(|c| !c.buffer.is_empty())
                .min_by_key(|c| c.buffer[0].sequence)?;
            best.buffer.pop_front().map(Ok)
        })))
    }

    /// The month keys a filter needs: those whose month can hold a
    /// timestamp of the window, widened by a day on each side (the
    /// reference files an entry under its timestamp's own offset).
    fn keys_for(&self, filter: &JournalQueryFilter) -> Result<Vec<String>> {
        let keys = self.month_keys()?;
        let widen = |t: Timestamp, by: i64| {
            month(Timestamp::from_unix_nanos(
                t.as_unix_nanos().saturating_add(by),
            ))
        };
        let low = filter.start_time.map(|t| widen(t, -NANOS_PER_DAY));
        let high = filter.end_time.map(|t| widen(t, NANOS_PER_DAY));
        Ok(keys
            .into_iter()
            .filter(|k| {
                let m = &k[k.len() - 7..];
                low.as_deref().is_none_or(|l| m >= l) && high.as_deref().is_none_or(|h| m <= h)
            })
            .collect())
    }

    /// The matching members (sequence, key, text), in sequence order.
    fn baldur_matches(&self, filter: &JournalQueryFilter) -> Result<Vec<(u64, String, String)>> {
        let mut matched = Vec::new();
        for key in self.keys_for(filter)? {
            self.read_all(&key, |v, text| {
                if filter::matches(filter, v) {
                    matched.push((v.sequence(), key.clone(), text.to_string()));
                }
            })?;
        }
        matched.sort_by_key(|m| m.0);
        Ok(matched)
    }

    fn no_conditions(filter: &JournalQueryFilter) -> bool {
        filter.event_types.is_none()
            && filter.service_name.is_none()
            && filter.region.is_none()
            && filter.start_time.is_none()
            && filter.end_time.is_none()
            && filter.context_filters.as_ref().is_none_or(|c| c.is_empty())
    }

    pub(crate) fn baldur_query(&self, filter: &JournalQueryFilter) -> Result<JournalQueryResult> {
        let limit = filter::effective_limit(filter, self.options.max_query_limit)?;
        if filter::matches_nothing(filter) {
            return Ok(ResultBuilder::new(limit).finish());
        }
        let matched = self.baldur_matches(filter)?;
        let mut entries = Vec::with_capacity(limit.min(matched.len()));
        for (_, key, text) in matched.iter().take(limit) {
            entries.push(self.with_member(key, text, |v| v.to_entry())?);
        }
        Ok(JournalQueryResult {
            truncated: matched.len() > entries.len(),
            total_count: matched.len() as u64,
            entries,
        })
    }

    pub(crate) fn baldur_count(&self, filter: &JournalQueryFilter) -> Result<u64> {
        filter::effective_limit(filter, self.options.max_query_limit)?;
        if filter::matches_nothing(filter) {
            return Ok(0);
        }
        if Self::no_conditions(filter) {
            let mut total = 0;
            for key in self.month_keys()? {
                total += self.pool.run(&format!("ZCARD {key}"), false, |con| {
                    redis::cmd("ZCARD").arg(&key).query::<u64>(con)
                })?;
            }
            return Ok(total);
        }
        Ok(self.baldur_matches(filter)?.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_print_as_python_isoformat() {
        let t = |s| Timestamp::parse(s).unwrap();
        assert_eq!(
            isoformat(t("2025-01-20T02:22:23.984343123Z")).unwrap(),
            "2025-01-20T02:22:23.984343+00:00"
        );
        assert_eq!(
            isoformat(t("2025-01-20T02:22:23Z")).unwrap(),
            "2025-01-20T02:22:23+00:00"
        );
        assert_eq!(
            isoformat(Timestamp::from_unix_nanos(-1)).unwrap(),
            "1969-12-31T23:59:59.999999+00:00"
        );
        assert_eq!(month(t("2025-12-31T23:59:59Z")), "2025-12");
        assert!(is_month("2025-01"));
        assert!(!is_month("sequen"));
        assert_eq!(glob_escape("a*b?"), "a\\*b\\?");
    }
}
