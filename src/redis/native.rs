//! The native layout (docs/REDIS.md "Native layout"): entries in one hash
//! keyed by 20-digit zero-padded sequence, a sequence index and a time
//! index (sorted sets of score 0 read by lexicographic range), and the
//! latest stored sequence, all written by one script.

use crate::entry::{JournalEntry, JournalQueryFilter, JournalQueryResult, Timestamp};
use crate::error::{Error, Result};
use crate::filter::{self, ResultBuilder};
use crate::journal::EntryIter;
use crate::redis::RedisJournal;
use crate::redis::decode::{View, decode};

/// Entries per append script call (a batch is split into such chunks).
pub(crate) const BATCH_CHUNK: usize = 1000;
/// Entries per read (script call or `HMGET`); below Lua's unpack limit.
const READ_CHUNK: usize = 1000;
/// Time-index members per `ZRANGE`.
const INDEX_CHUNK: usize = 10_000;
/// The layout's version, kept in `{prefix}:format`.
const FORMAT: &str = "1";

/// How an append chooses its first sequence.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Mode {
    /// Latest + 1.
    Next,
    /// Exactly this; must exceed the latest.
    At(u64),
    /// Latest + 1, only if the latest is this.
    IfLatest(u64),
}

impl Mode {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Mode::Next => "next",
            Mode::At(_) => "at",
            Mode::IfLatest(_) => "if_latest",
        }
    }
    pub(crate) fn param(self) -> u64 {
        match self {
            Mode::Next => 0,
            Mode::At(s) | Mode::IfLatest(s) => s,
        }
    }
}

/// Sequences as 20 decimal digits: lexicographic order is numeric order
/// for every u64, in Redis and in Lua (whose numbers are doubles).
pub(crate) fn seq20(sequence: u64) -> String {
    format!("{sequence:020}")
}

/// A timestamp as 16 hex digits whose lexicographic order is time order
/// (the sign bit flipped).
pub(crate) fn time16(t: Timestamp) -> String {
    format!("{:016x}", t.as_unix_nanos().cast_unsigned() ^ (1 << 63))
}

/// The append script. KEYS: latest, entries, seq index, time index,
/// format. ARGV: mode, param (20 digits), retention cutoff (16 hex or
/// empty), n, then n pairs (time key, entry JSON after `{"sequence":`).
/// Checks everything before the first write.
const APPEND_SCRIPT: &str = r#"#!lua
local MAX = '18446744073709551615'
local ZERO = '00000000000000000000'
local function inc(s)
  local d = {string.byte(s, 1, 20)}
  local i = 20
  while i >= 1 do
    if d[i] == 57 then d[i] = 48; i = i - 1 else d[i] = d[i] + 1; break end
  end
  if i == 0 then return nil end
  return string.char(unpack(d))
end
local latest = redis.call('GET', KEYS[1]) or ZERO
local mode = ARGV[1]
local first
if mode == 'at' then
  if ARGV[2] <= latest then return {'nonmonotonic', latest} end
  first = ARGV[2]
elseif mode == 'if_latest' then
  if ARGV[2] ~= latest then return {'conflict', latest} end
  first = inc(latest)
else
  first = inc(latest)
end
local n = tonumber(ARGV[4])
local seqs = {}
local s = first
for i = 1, n do
  if s == nil or s > MAX then return {'overflow', latest} end
  seqs[i] = s
  s = inc(s)
end
for i = 1, n do
  local seq = seqs[i]
  local digits = string.match(seq, '^0*(%d+)$')
  redis.call('HSET', KEYS[2], seq, '{"sequence":' .. digits .. ARGV[4 + 2 * i])
  redis.call('ZADD', KEYS[3], 0, seq)
  redis.call('ZADD', KEYS[4], 0, ARGV[3 + 2 * i] .. seq)
end
redis.call('SET', KEYS[1], seqs[n])
redis.call('SET', KEYS[5], '1')
if ARGV[3] ~= '' then
  local old = redis.call('ZRANGE', KEYS[4], '-', '(' .. ARGV[3], 'BYLEX', 'LIMIT', 0, 100)
  for _, m in ipairs(old) do
    local seq = string.sub(m, 17)
    redis.call('HDEL', KEYS[2], seq)
    redis.call('ZREM', KEYS[3], seq)
    redis.call('ZREM', KEYS[4], m)
  end
end
return {'ok', first}
"#;

/// The range script: KEYS seq index, entries; ARGV min, max (lex bounds),
/// count. Returns the entries' JSON in sequence order.
const RANGE_SCRIPT: &str = r#"#!lua flags=no-writes
local f = redis.call('ZRANGE', KEYS[1], ARGV[1], ARGV[2], 'BYLEX', 'LIMIT', 0, tonumber(ARGV[3]))
if #f == 0 then return {} end
return redis.call('HMGET', KEYS[2], unpack(f))
"#;

fn append_script() -> &'static redis::Script {
    static SCRIPT: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
    SCRIPT.get_or_init(|| redis::Script::new(APPEND_SCRIPT))
}

fn range_script() -> &'static redis::Script {
    static SCRIPT: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
    SCRIPT.get_or_init(|| redis::Script::new(RANGE_SCRIPT))
}

/// The entry's JSON line (as `export` writes it) after `{"sequence":N`:
/// the script puts the sequence in front.
pub(crate) fn json_after_sequence(entry: &JournalEntry, appended_at: Timestamp) -> Result<String> {
    let mut copy = entry.clone();
    copy.sequence = 0;
    let text = serde_json::to_string(&copy)
        .map_err(|e| Error::InvalidEntry(format!("cannot serialize entry: {e}")))?;
    let rest = text
        .strip_prefix(r#"{"sequence":0"#)
        .and_then(|r| r.strip_suffix('}'))
        .ok_or_else(|| Error::InvalidEntry("unexpected entry serialization".into()))?;
    Ok(format!(r#"{rest},"appended_at":"{appended_at}"}}"#))
}

fn seq_of(text: &str) -> Option<u64> {
    text.parse().ok()
}

/// Only a time window (or nothing): the indexes answer alone.
fn only_time(filter: &JournalQueryFilter) -> bool {
    filter.event_types.is_none()
        && filter.service_name.is_none()
        && filter.region.is_none()
        && filter.context_filters.as_ref().is_none_or(|c| c.is_empty())
}

impl RedisJournal {
    fn key(&self, name: &str) -> String {
        if self.tagged {
            format!("{{{}}}:{name}", self.prefix)
        } else {
            format!("{}:{name}", self.prefix)
        }
    }

    /// The keys' prefix in messages: `{P}:*` or `P:*`.
    fn keys_label(&self) -> String {
        self.key("*")
    }

    fn get_format(&self, key: &str) -> Result<Option<String>> {
        self.pool.run(&format!("GET {key}"), false, |con| {
            redis::cmd("GET").arg(key).query(con)
        })
    }

    /// Chooses the key names: the hash-tagged `{P}:*` when that journal
    /// exists or neither does; the untagged `P:*` of a journal created
    /// before hash tags when only it exists (one server only: on a
    /// cluster its keys lie in different slots).
    pub(crate) fn native_detect_keys(&mut self) -> Result<()> {
        self.tagged = true;
        let mut found = self.get_format(&self.key("format"))?;
        if found.is_none() {
            let untagged = format!("{}:format", self.prefix);
            if let Some(legacy) = self.get_format(&untagged)? {
                if self.pool.is_cluster() {
                    return Err(Error::RedisData {
                        server: self.pool.server.clone(),
                        key: untagged,
                        reason: format!(
                            "a journal under the untagged key names {}:* (before hash tags), \
                             which a cluster cannot update in one script: rename its keys to \
                             {{{}}}:* on one server first (docs/REDIS.md \"Key names and \
                             migration\")",
                            self.prefix, self.prefix
                        ),
                    });
                }
                self.tagged = false;
                found = Some(legacy);
            }
        }
        let key = self.key("format");
        match found {
            Some(v) if v != FORMAT => Err(Error::RedisData {
                server: self.pool.server.clone(),
                key,
                reason: format!("layout version {v:?}, this build reads {FORMAT:?}"),
            }),
            _ => Ok(()),
        }
    }

    pub(crate) fn native_destroy(&self) -> Result<()> {
        let keys: Vec<String> = ["latest", "entries", "seq", "time", "format"]
            .iter()
            .map(|k| self.key(k))
            .collect();
        self.pool.run("DEL", true, |con| {
            redis::cmd("DEL").arg(&keys).query::<u64>(con)
        })?;
        Ok(())
    }

    pub(crate) fn native_append(
        &self,
        mode: Mode,
        entries: &[JournalEntry],
    ) -> Result<Option<u64>> {
        #[cfg(feature = "break-redis-skip-cas")]
        let mode = match mode {
            Mode::IfLatest(_) => Mode::Next,
            other => other,
        };
        #[cfg(feature = "break-redis-split-append")]
        if let Mode::Next = mode {
            return self.broken_split_append(entries);
        }
        let appended_now = Timestamp::now();
        let cutoff = match self.options.retention {
            Some(r) => {
                let nanos = i64::try_from(r.as_nanos()).unwrap_or(i64::MAX);
                time16(Timestamp::from_unix_nanos(
                    appended_now.as_unix_nanos().saturating_sub(nanos),
                ))
            }
            None => String::new(),
        };
        let keys: Vec<String> = ["latest", "entries", "seq", "time", "format"]
            .iter()
            .map(|name| self.key(name))
            .collect();
        let mut args = Vec::with_capacity(4 + 2 * entries.len());
        args.extend([
            mode.name().to_string(),
            seq20(mode.param()),
            cutoff,
            entries.len().to_string(),
        ]);
        for entry in entries {
            let appended_at = match mode {
                Mode::At(_) => entry.appended_at.unwrap_or(appended_now),
                _ => appended_now,
            };
            args.push(time16(entry.timestamp));
            args.push(json_after_sequence(entry, appended_at)?);
        }
        let reply = self.write_script(
            format!(
                "EVALSHA append script ({} entries) on {}",
                entries.len(),
                self.keys_label()
            ),
            append_script(),
            &keys,
            &args,
        )?;
        self.script_reply(mode, &reply)
    }

    /// The reference's way, for `break-redis-split-append` only: read the
    /// latest sequence in one round trip, write in another.
    #[cfg(feature = "break-redis-split-append")]
    fn broken_split_append(&self, entries: &[JournalEntry]) -> Result<Option<u64>> {
        let first = self.native_latest()? + 1;
        let now = Timestamp::now();
        let mut pipe = redis::pipe();
        for (i, entry) in entries.iter().enumerate() {
            let seq = first + i as u64;
            let json = format!("{{\"sequence\":{seq}{}", json_after_sequence(entry, now)?);
            pipe.cmd("HSET")
                .arg(self.key("entries"))
                .arg(seq20(seq))
                .arg(json)
                .ignore();
            pipe.cmd("ZADD")
                .arg(self.key("seq"))
                .arg(0)
                .arg(seq20(seq))
                .ignore();
            pipe.cmd("ZADD")
                .arg(self.key("time"))
                .arg(0)
                .arg(format!("{}{}", time16(entry.timestamp), seq20(seq)))
                .ignore();
        }
        let last = seq20(first + entries.len() as u64 - 1);
        pipe.cmd("SET").arg(self.key("latest")).arg(last).ignore();
        self.pool
            .run("broken split append", true, |con| pipe.query::<()>(con))?;
        Ok(Some(first))
    }

    pub(crate) fn script_reply(&self, mode: Mode, reply: &[String]) -> Result<Option<u64>> {
        let number = |i: usize| -> Result<u64> {
            reply
                .get(i)
                .and_then(|s| seq_of(s))
                .ok_or_else(|| Error::Redis {
                    server: self.pool.server.clone(),
                    command: "append script".into(),
                    reason: format!("unexpected reply {reply:?}"),
                })
        };
        match reply.first().map(String::as_str) {
            Some("ok") => Ok(Some(number(1)?)),
            Some("conflict") => Ok(None),
            Some("nonmonotonic") => Err(Error::NonMonotonic {
                sequence: mode.param(),
                latest: number(1)?,
            }),
            Some("overflow") => Err(Error::SequenceOverflow { latest: number(1)? }),
            _ => Err(Error::Redis {
                server: self.pool.server.clone(),
                command: "append script".into(),
                reason: format!("unexpected reply {reply:?}"),
            }),
        }
    }

    pub(crate) fn native_latest(&self) -> Result<u64> {
        let key = self.key("latest");
        let value: Option<String> = self.pool.run(&format!("GET {key}"), false, |con| {
            redis::cmd("GET").arg(&key).query(con)
        })?;
        match value {
            None => Ok(0),
            Some(v) => seq_of(&v).ok_or_else(|| Error::RedisData {
                server: self.pool.server.clone(),
                key,
                reason: format!("not a sequence: {v:?}"),
            }),
        }
    }

    fn bad_value(&self, field: &str, reason: &str, value: &str) -> Error {
        Error::RedisData {
            server: self.pool.server.clone(),
            key: self.key("entries"),
            reason: format!(
                "field {field}: {reason}: {}",
                value.chars().take(120).collect::<String>()
            ),
        }
    }

    /// Decodes a stored value and hands its view to `each`.
    fn with_view<T>(
        &self,
        field: &str,
        value: &str,
        each: impl FnOnce(&View<'_>) -> T,
    ) -> Result<T> {
        match decode(value) {
            Ok(view) => Ok(each(&view)),
            Err(reason) => Err(self.bad_value(field, &reason, value)),
        }
    }

    /// Up to `count` stored values with `next <= sequence < end`.
    /// Up to `count` stored values with `next <= sequence < end`, or to
    /// the end of the index (`u64::MAX` included) when `end` is `None`.
    fn raw_range_chunk(&self, next: u64, end: Option<u64>, count: usize) -> Result<Vec<String>> {
        let (seq_key, entries_key) = (self.key("seq"), self.key("entries"));
        let values: Vec<Option<String>> = self.pool.run(
            &format!("EVALSHA range script on {seq_key}"),
            false,
            |con| {
                range_script()
                    .key(&seq_key)
                    .key(&entries_key)
                    .arg(format!("[{}", seq20(next)))
                    .arg(end.map_or_else(|| "+".to_string(), |end| format!("({}", seq20(end))))
                    .arg(count)
                    .invoke(con)
            },
        )?;
        self.pool.count_read(values.len());
        values
            .into_iter()
            .map(|v| v.ok_or_else(|| self.bad_value("in range", "indexed but missing", "")))
            .collect()
    }

    /// Up to `count` entries with `next <= sequence < end` (`None`: to the
    /// end).
    fn range_chunk(&self, next: u64, end: Option<u64>, count: usize) -> Result<Vec<JournalEntry>> {
        self.raw_range_chunk(next, end, count)?
            .iter()
            .map(|v| self.with_view("in range", v, |view| view.to_entry()))
            .collect()
    }

    /// Every stored entry with `start <= sequence < end` (`None`: to the
    /// end, `u64::MAX` included), as views, in chunks.
    fn scan(&self, start: u64, end: Option<u64>, mut each: impl FnMut(&View<'_>)) -> Result<()> {
        let mut next = start;
        while end.is_none_or(|end| next < end) {
            let chunk = self.raw_range_chunk(next, end, READ_CHUNK)?;
            let mut last = None;
            for value in &chunk {
                last = Some(self.with_view("in range", value, |v| {
                    each(v);
                    v.sequence()
                })?);
            }
            match last.and_then(|l| l.checked_add(1)) {
                Some(n) if chunk.len() == READ_CHUNK => next = n,
                _ => break,
            }
        }
        Ok(())
    }

    /// Streams `start <= sequence < end`, or to the end (`u64::MAX`
    /// included) when `end` is `None`.
    pub(crate) fn native_range_iter(&self, start: u64, end: Option<u64>) -> Result<EntryIter<'_>> {
        let mut next = Some(start);
        let mut buffer = std::collections::VecDeque::new();
        Ok(Box::new(std::iter::from_fn(move || {
            if buffer.is_empty() {
                let from = next.filter(|n| end.is_none_or(|end| *n < end))?;
                match self.range_chunk(from, end, READ_CHUNK) {
                    Err(e) => {
                        next = None;
                        return Some(Err(e));
                    }
                    Ok(chunk) => {
                        next = match chunk.last() {
                            Some(last) if chunk.len() == READ_CHUNK => last.sequence.checked_add(1),
                            _ => None,
                        };
                        buffer.extend(chunk);
                    }
                }
            }
            buffer.pop_front().map(Ok)
        })))
    }

    /// Sequences (20 digits, ascending) of the entries whose timestamp is
    /// in the filter's window, from the time index alone.
    fn window_sequences(&self, filter: &JournalQueryFilter) -> Result<Vec<String>> {
        let key = self.key("time");
        let mut min = filter
            .start_time
            .map_or("-".to_string(), |t| format!("[{}", time16(t)));
        let max = filter
            .end_time
            .map_or("+".to_string(), |t| format!("({}", time16(t)));
        let mut seqs = Vec::new();
        loop {
            let members: Vec<String> =
                self.pool
                    .run(&format!("ZRANGE {key} BYLEX"), false, |con| {
                        redis::cmd("ZRANGE")
                            .arg(&key)
                            .arg(&min)
                            .arg(&max)
                            .arg("BYLEX")
                            .arg("LIMIT")
                            .arg(0)
                            .arg(INDEX_CHUNK)
                            .query(con)
                    })?;
            self.pool.count_read(members.len());
            let full = members.len() == INDEX_CHUNK;
            if let Some(last) = members.last() {
                min = format!("({last}");
            }
            seqs.extend(
                members
                    .into_iter()
                    .filter_map(|m| m.get(16..).map(str::to_string)),
            );
            if !full {
                break;
            }
        }
        seqs.sort_unstable();
        Ok(seqs)
    }

    /// The entries of these sequences (20 digits), in chunks, as views.
    fn fetch(&self, seqs: &[String], mut each: impl FnMut(&View<'_>)) -> Result<()> {
        let key = self.key("entries");
        for chunk in seqs.chunks(READ_CHUNK) {
            let values: Vec<Option<String>> = self.pool.run(
                &format!("HMGET {key} ({} fields)", chunk.len()),
                false,
                |con| redis::cmd("HMGET").arg(&key).arg(chunk).query(con),
            )?;
            self.pool.count_read(values.len());
            for (value, field) in values.into_iter().zip(chunk) {
                // A missing value was removed by retention (in any process)
                // between reading the time index and this read: skip it.
                if let Some(value) = value {
                    self.with_view(field, &value, &mut each)?;
                }
            }
        }
        Ok(())
    }

    fn cardinality(&self) -> Result<u64> {
        let key = self.key("seq");
        self.pool.run(&format!("ZCARD {key}"), false, |con| {
            redis::cmd("ZCARD").arg(&key).query(con)
        })
    }

    fn window_count(&self, filter: &JournalQueryFilter) -> Result<u64> {
        let key = self.key("time");
        let min = filter
            .start_time
            .map_or("-".to_string(), |t| format!("[{}", time16(t)));
        let max = filter
            .end_time
            .map_or("+".to_string(), |t| format!("({}", time16(t)));
        self.pool.run(&format!("ZLEXCOUNT {key}"), false, |con| {
            redis::cmd("ZLEXCOUNT")
                .arg(&key)
                .arg(&min)
                .arg(&max)
                .query(con)
        })
    }

    pub(crate) fn native_query(&self, filter: &JournalQueryFilter) -> Result<JournalQueryResult> {
        let limit = filter::effective_limit(filter, self.options.max_query_limit)?;
        let mut result = ResultBuilder::new(limit);
        if filter::matches_nothing(filter) {
            return Ok(result.finish());
        }
        let windowed = filter.start_time.is_some() || filter.end_time.is_some();
        if only_time(filter) {
            if windowed {
                let seqs = self.window_sequences(filter)?;
                let mut kept = Vec::with_capacity(limit.min(seqs.len()));
                self.fetch(&seqs[..limit.min(seqs.len())], |v| kept.push(v.to_entry()))?;
                return Ok(JournalQueryResult {
                    truncated: seqs.len() > kept.len(),
                    total_count: seqs.len() as u64,
                    entries: kept,
                });
            }
            let total = self.cardinality()?;
            let wanted = limit.min(usize::try_from(total).unwrap_or(usize::MAX));
            let mut entries: Vec<JournalEntry> = Vec::with_capacity(wanted);
            let mut next = Some(0);
            while let Some(from) = next.filter(|_| entries.len() < wanted) {
                let ask = (wanted - entries.len()).min(READ_CHUNK);
                let chunk = self.range_chunk(from, None, ask)?;
                next = match chunk.last() {
                    Some(last) if chunk.len() == ask => last.sequence.checked_add(1),
                    _ => None,
                };
                entries.extend(chunk);
            }
            return Ok(JournalQueryResult {
                truncated: total > entries.len() as u64,
                total_count: total,
                entries,
            });
        }
        let mut keep = |v: &View<'_>| {
            if filter::matches(filter, v) {
                result.push_with(|| v.to_entry());
            }
        };
        if windowed {
            self.fetch(&self.window_sequences(filter)?, &mut keep)?;
        } else {
            self.scan(0, None, &mut keep)?;
        }
        Ok(result.finish())
    }

    pub(crate) fn native_count(&self, filter: &JournalQueryFilter) -> Result<u64> {
        filter::effective_limit(filter, self.options.max_query_limit)?;
        if filter::matches_nothing(filter) {
            return Ok(0);
        }
        let windowed = filter.start_time.is_some() || filter.end_time.is_some();
        if only_time(filter) {
            return if windowed {
                self.window_count(filter)
            } else {
                self.cardinality()
            };
        }
        let mut total = 0;
        let mut tally = |v: &View<'_>| total += u64::from(filter::matches(filter, v));
        if windowed {
            self.fetch(&self.window_sequences(filter)?, &mut tally)?;
        } else {
            self.scan(0, None, &mut tally)?;
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_as_numbers_and_times() {
        assert!(seq20(9) < seq20(10));
        assert!(seq20(u64::MAX - 1) < seq20(u64::MAX));
        assert_eq!(seq20(u64::MAX), "18446744073709551615");
        let t = |n| time16(Timestamp::from_unix_nanos(n));
        assert!(t(i64::MIN) < t(-1));
        assert!(t(-1) < t(0));
        assert!(t(0) < t(1));
        assert!(t(1) < t(i64::MAX));
    }

    #[test]
    fn entry_json_is_the_export_line_after_the_sequence() {
        let e = JournalEntry::new("t", "s", Timestamp::from_unix_nanos(0), "svc");
        let rest = json_after_sequence(&e, Timestamp::from_unix_nanos(1_000_000_000)).unwrap();
        assert_eq!(
            format!("{{\"sequence\":7{rest}"),
            r#"{"sequence":7,"event_type":"t","source":"s","timestamp":"1970-01-01T00:00:00Z","service_name":"svc","context":{},"region":"","tier_id":"","appended_at":"1970-01-01T00:00:01Z"}"#
        );
    }
}
