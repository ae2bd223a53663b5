//! The fuzz corpora as ordinary tests: every file of `fuzz/corpus/<target>/`
//! (the committed seeds) and of `fuzz/regressions/<target>/` (inputs that
//! once broke a property) goes through the same property check the fuzz
//! target calls (`baldur_journal::fuzzing`), so CI exercises them without
//! cargo-fuzz or a nightly toolchain. A missing or empty directory fails.
//!
//! The seeds are made by the ignored test `regenerate_seed_corpora` from the
//! golden journal (`tests/golden/v1`) and the reference vectors
//! (`../shared/reference/vectors/journal`):
//!
//! ```text
//! cargo test --test engine -- --ignored fuzz_corpora::regenerate
//! ```

use std::path::{Path, PathBuf};

use baldur_journal::codec::{self, BODY_LEN_MAX, Frame, SEGMENT_HEADER_LEN};
use baldur_journal::disk::{SealedIndex, SparseIndex, Summary};
use baldur_journal::fuzzing;
use baldur_journal::{Context, JournalEntry, Timestamp};

const FUZZ: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz");

/// A property check, as the fuzz targets call it.
type Check = fn(&[u8]) -> Result<(), String>;

/// The files of `fuzz/<kind>/<target>/`, sorted. A seed corpus must exist
/// and hold inputs; a target may have no regression inputs.
fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(FUZZ).join(kind).join(target);
    if kind == "regressions" && !dir.exists() {
        return Vec::new();
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|item| item.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(
        kind == "regressions" || !files.is_empty(),
        "{} holds no input",
        dir.display()
    );
    files
}

/// Runs every input of `fuzz/<kind>/<target>/` through `check`, reporting
/// every failure (not only the first).
fn run(kind: &str, target: &str, check: Check) {
    let mut failures = Vec::new();
    let files = inputs(kind, target);
    for path in &files {
        let data = std::fs::read(path).unwrap();
        if let Err(problem) = check(&data) {
            failures.push(format!("{}: {problem}", path.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} inputs break a property:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

macro_rules! corpus_tests {
    ($($target:ident => $check:path),* $(,)?) => {
        mod corpus {
            $(
                #[test]
                fn $target() {
                    super::run("corpus", stringify!($target), $check);
                }
            )*
        }
        mod regressions {
            $(
                #[test]
                fn $target() {
                    super::run("regressions", stringify!($target), $check);
                }
            )*
        }
    };
}

corpus_tests! {
    decode_record => baldur_journal::fuzzing::check_decode_record,
    decode_index => baldur_journal::fuzzing::check_decode_index,
    open_directory => baldur_journal::fuzzing::check_open_directory,
    import_line => baldur_journal::fuzzing::check_import_line,
    filter_json => baldur_journal::fuzzing::check_filter_json,
    journal_ops => baldur_journal::fuzzing::check_journal_ops,
}

/// No input directory without a matching check (a target added to `fuzz/`
/// but not here would silently not run).
#[test]
fn every_fuzz_target_has_its_corpora_here() {
    let known = [
        "decode_record",
        "decode_index",
        "open_directory",
        "import_line",
        "filter_json",
        "journal_ops",
    ];
    for kind in ["corpus", "regressions", "fuzz_targets"] {
        let dir = Path::new(FUZZ).join(kind);
        if kind == "regressions" && !dir.exists() {
            continue;
        }
        for item in std::fs::read_dir(&dir).unwrap() {
            let path = item.unwrap().path();
            let name = path.file_stem().unwrap().to_str().unwrap().to_string();
            assert!(
                known.contains(&name.as_str()),
                "fuzz/{kind}/{name} has no test in tests/engine/fuzz_corpora.rs"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Making the seed corpora

const GOLDEN_JOURNAL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/v1/journal");
const GOLDEN_ENTRIES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/v1/entries.jsonl");
const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/reference/vectors/journal"
);
/// Seed frames larger than this are left out (libFuzzer's default input
/// length limit is 4096 bytes unless the corpus has longer inputs).
const SEED_BYTES_MAX: usize = 4096;

/// The check of a target, by name.
fn check_of(target: &str) -> Check {
    match target {
        "decode_record" => fuzzing::check_decode_record,
        "decode_index" => fuzzing::check_decode_index,
        "open_directory" => fuzzing::check_open_directory,
        "import_line" => fuzzing::check_import_line,
        "filter_json" => fuzzing::check_filter_json,
        "journal_ops" => fuzzing::check_journal_ops,
        other => panic!("no fuzz target {other}"),
    }
}

/// Writes a seed into `fuzz/corpus/<target>/`, or, when it breaks a
/// property today, into `fuzz/regressions/<target>/` (and says so).
fn write_seed(target: &str, name: &str, bytes: &[u8]) {
    let kind = match check_of(target)(bytes) {
        Ok(()) => "corpus",
        Err(problem) => {
            eprintln!("seed {target}/{name} breaks a property, kept as a regression: {problem}");
            "regressions"
        }
    };
    let dir = Path::new(FUZZ).join(kind).join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

/// `(offset, frame bytes)` of every frame (records and footer) of a log.
fn frames(log: &[u8]) -> Vec<(usize, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = SEGMENT_HEADER_LEN;
    while let Ok((frame, len)) = codec::read_frame(&log[at..], BODY_LEN_MAX) {
        out.push((at, log[at..at + len].to_vec()));
        if matches!(frame, Frame::Footer(_)) {
            break;
        }
        at += len;
    }
    out
}

fn seed_decode_record() {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(GOLDEN_JOURNAL)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    logs.sort();
    for (n, log) in logs.iter().enumerate() {
        let bytes = std::fs::read(log).unwrap();
        let all = frames(&bytes);
        let small: Vec<_> = all
            .iter()
            .filter(|(_, f)| f.len() <= SEED_BYTES_MAX)
            .collect();
        // The first few records, one from the middle, and the footer.
        let mut picked: Vec<_> = small.iter().take(4).collect();
        picked.extend(small.get(small.len() / 2));
        picked.extend(small.last());
        picked.dedup_by_key(|(at, _)| *at);
        for (at, frame) in picked {
            write_seed(
                "decode_record",
                &format!("golden-segment{n}-at{at}.bin"),
                frame,
            );
        }
    }
    // A record with every field set, and the prefixes that stop it short.
    let entry = JournalEntry::new("ünïcode_事件", "src", Timestamp::from_unix_nanos(-1), "svc")
        .with_context(Context::from_json(r#"{"a":[1.5,"\n"],"big":18446744073709551617}"#).unwrap())
        .with_region("eu")
        .with_tier_id("t");
    let mut body = Vec::new();
    codec::encode_body(&entry, &mut body).unwrap();
    codec::patch_body(&mut body, u64::MAX, Timestamp::MAX, 4096);
    let mut frame = Vec::new();
    codec::push_frame(&mut frame, &body);
    write_seed("decode_record", "unicode-record.bin", &frame);
    write_seed("decode_record", "truncated-record.bin", &frame[..40]);
    write_seed("decode_record", "zero-word.bin", &[0; 12]);
}

fn seed_decode_index() {
    for item in std::fs::read_dir(GOLDEN_JOURNAL).unwrap() {
        let path = item.unwrap().path();
        if path.extension().is_some_and(|x| x == "idx") {
            let name = path.file_name().unwrap().to_str().unwrap();
            write_seed(
                "decode_index",
                &format!("golden-{name}"),
                &std::fs::read(&path).unwrap(),
            );
        }
    }
    // Several sparse entries (blocks) and event types; and an incomplete table.
    let mut summary = Summary::empty();
    let mut index = SparseIndex::default();
    for (i, seq) in [5u64, 6, 9, 4_000_000_000].into_iter().enumerate() {
        let keys = codec::SummaryKeys {
            sequence: seq,
            timestamp_ns: if i == 3 { i64::MAX } else { -5 + i as i64 },
            appended_ns: 1000 + i as i64,
            event_type: if i == 1 { "é" } else { "dlq_store" },
            service_name: if i == 2 { "orders" } else { "payments" },
            region: "eu-west-1",
        };
        index.note(&keys, 64 + 4096 * i as u64);
        summary.add_keys(&keys);
    }
    let footer = codec::Footer {
        record_count: 4,
        first_sequence: 5,
        last_sequence: 4_000_000_000,
        data_end: 64 + 4096 * 4,
        digest: [0xab; 32],
        previous_digest: [0xcd; 32],
    };
    let mut sealed = SealedIndex {
        journal_id: *b"0123456789abcdef",
        base_sequence: 5,
        summary,
        index,
        footer,
    };
    write_seed("decode_index", "four-entries.idx", &sealed.encode());
    sealed.index = sealed.index.as_version_1();
    sealed.summary = sealed.summary.as_version_1();
    write_seed("decode_index", "four-entries-v1.idx", &sealed.encode());
    sealed.summary.event_types = None;
    write_seed("decode_index", "incomplete-types.idx", &sealed.encode());
}

fn seed_import_line() {
    let events = std::fs::read_to_string(Path::new(VECTORS).join("events.jsonl")).unwrap();
    for (n, line) in events.lines().take(12).enumerate() {
        write_seed(
            "import_line",
            &format!("reference-event-{n}.json"),
            line.as_bytes(),
        );
    }
    let golden = std::fs::read_to_string(GOLDEN_ENTRIES).unwrap();
    for (n, line) in golden
        .lines()
        .filter(|l| l.len() <= 1024)
        .take(8)
        .enumerate()
    {
        write_seed(
            "import_line",
            &format!("golden-entry-{n}.json"),
            line.as_bytes(),
        );
    }
    write_seed(
        "import_line",
        "minimal.json",
        br#"{"event_type":"e","source":"s","timestamp":"2025-01-01T00:00:00Z","service_name":""}"#,
    );
    write_seed(
        "import_line",
        "time-edges.json",
        br#"{"sequence":18446744073709551615,"event_type":"e","source":"s","timestamp":"1677-09-21T00:12:43.145224192Z","service_name":"","context":{ "k" : [ 1e400 , -0 ] },"appended_at":"2262-04-11T23:47:16.854775807Z"}"#,
    );
}

fn seed_filter_json() {
    let queries = std::fs::read_to_string(Path::new(VECTORS).join("queries.jsonl")).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for line in queries.lines() {
        let case: serde_json::Value = serde_json::from_str(line).unwrap();
        if case["kind"] != "query" || !seen.insert(case["tags"].to_string()) {
            continue;
        }
        let id = case["id"].as_str().unwrap();
        write_seed(
            "filter_json",
            &format!("reference-{id}.json"),
            case["filter"].to_string().as_bytes(),
        );
    }
    write_seed(
        "filter_json",
        "palette.json",
        r#"{"event_types":["dlq_store","é"],"service_name":"payments","region":"","start_time":"2023-11-14T22:13:20Z","end_time":"2262-04-11T23:47:16.854775807Z","limit":3,"context_filters":{"attempt":"1","ok":"True","city":"東京","nested":"{'a': [1, 2]}"}}"#
            .as_bytes(),
    );
    write_seed(
        "filter_json",
        "empty-key.json",
        br#"{"context_filters":{"":"x"}}"#,
    );
}

/// Operation encoders for `check_open_directory` inputs (layout in
/// `fuzz/README.md`).
mod dir_ops {
    pub const META: u8 = 0;
    pub const HEAD: u8 = 1;
    pub const LOG_1: u8 = 2;
    pub const IDX_1: u8 = 3;
    pub const LOG_50: u8 = 4;
    pub const LOG_MAX: u8 = 6;

    pub fn overwrite(file: u8, at: u16, bytes: &[u8]) -> Vec<u8> {
        let [at_low, at_high] = at.to_le_bytes();
        let len = u8::try_from(bytes.len()).unwrap();
        let mut out = vec![file, at_low, at_high, len];
        out.extend_from_slice(bytes);
        out
    }
    pub fn truncate(file: u8, len: u16) -> Vec<u8> {
        let [len_low, len_high] = len.to_le_bytes();
        vec![0x30 | file, len_low, len_high]
    }
    pub fn delete(file: u8) -> Vec<u8> {
        vec![0x40 | file]
    }
    pub fn flip(file: u8, at: u16, mask: u8) -> Vec<u8> {
        let [at_low, at_high] = at.to_le_bytes();
        vec![0x50 | file, at_low, at_high, mask]
    }
    pub fn frame(file: u8, at: u16, body: &[u8]) -> Vec<u8> {
        let [at_low, at_high] = at.to_le_bytes();
        let [n_low, n_high] = u16::try_from(body.len()).unwrap().to_le_bytes();
        let mut out = vec![0x60 | file, at_low, at_high, n_low, n_high];
        out.extend_from_slice(body);
        out
    }
    pub fn fix_checksum(file: u8) -> Vec<u8> {
        vec![0x70 | file]
    }
    pub fn seal(file: u8) -> Vec<u8> {
        vec![0x80 | file]
    }
    pub fn copy(file: u8, from: u8) -> Vec<u8> {
        vec![0x90 | file, from]
    }
    pub fn meta(pick: u8) -> Vec<u8> {
        vec![0xb0 | META, pick]
    }
    pub fn head() -> Vec<u8> {
        vec![0xa0 | HEAD, 3, 1, 0, 1, 0, 1, 51, 0, 0, 0, 0, 0, 0, 0]
    }
}

/// A record body (for the write-a-frame operation).
fn body(sequence: u64, commit_hint: u64) -> Vec<u8> {
    let entry = JournalEntry::new("dlq_store", "seed", Timestamp::from_unix_nanos(1), "svc");
    let mut body = Vec::new();
    codec::encode_body(&entry, &mut body).unwrap();
    codec::patch_body(
        &mut body,
        sequence,
        Timestamp::from_unix_nanos(2),
        commit_hint,
    );
    body
}

fn seed_open_directory() {
    use dir_ops::*;
    let seeds: Vec<(&str, u8, Vec<Vec<u8>>)> = vec![
        ("template", 0x00, vec![]),
        ("template-append", 0x08, vec![]),
        ("empty-directory", 0x01, vec![]),
        ("torn-tail", 0x08, vec![truncate(LOG_50, 300)]),
        ("torn-tail-strict", 0x02, vec![truncate(LOG_50, 300)]),
        ("synced-damage", 0x00, vec![flip(LOG_50, 80, 0x10)]),
        ("synced-damage-salvage", 0x0c, vec![flip(LOG_50, 80, 0x10)]),
        ("sealed-damage", 0x00, vec![flip(LOG_1, 100, 0x01)]),
        ("index-missing", 0x08, vec![delete(IDX_1)]),
        ("index-damaged", 0x00, vec![flip(IDX_1, 170, 0x80)]),
        ("no-head", 0x08, vec![delete(HEAD)]),
        ("valid-head", 0x08, vec![head()]),
        ("completed-roll", 0x08, vec![seal(LOG_50)]),
        (
            "frame-appended",
            0x08,
            vec![frame(LOG_50, u16::MAX, &body(60, 64))],
        ),
        (
            "header-only-active",
            0x08,
            vec![truncate(LOG_50, 64), delete(HEAD)],
        ),
        ("half-header-active", 0x08, vec![truncate(LOG_50, 20)]),
        ("meta-small-segments", 0x08, vec![meta(7)]),
        ("meta-other-id", 0x00, vec![meta(8)]),
        ("meta-missing", 0x00, vec![delete(META)]),
        (
            "segment-at-u64-max",
            0x08,
            vec![
                copy(LOG_MAX, LOG_50),
                overwrite(LOG_MAX, 32, &[0xff; 8]),
                fix_checksum(LOG_MAX),
                truncate(LOG_MAX, 64),
                seal(LOG_50),
                seal(LOG_MAX),
            ],
        ),
    ];
    for (name, mode, ops) in seeds {
        let mut input = vec![mode];
        for op in ops {
            input.extend(op);
        }
        write_seed("open_directory", &format!("{name}.bin"), &input);
    }
}

fn seed_journal_ops() {
    // Entries: two palette bytes; with the top bit of the first, a third
    // byte sizes a padding of 300 bytes a unit.
    let append = |a: u8, b: u8| vec![0u8, a, b];
    let big = |a: u8, size: u8| vec![0u8, 0x80 | a, 0x08, size];
    let batch = |n: u8| {
        let mut op = vec![3u8, n];
        for i in 0..n {
            op.extend([i.wrapping_mul(29), i.wrapping_mul(13)]);
        }
        op
    };
    let append_at = |kind: u8, x: u8| vec![4u8, kind, x, 0x11, 0x22];
    let query = |flags: u8, args: &[u8]| {
        let mut op = vec![6u8, flags];
        op.extend_from_slice(args);
        op
    };
    let count = |flags: u8, args: &[u8]| {
        let mut op = vec![8u8, flags];
        op.extend_from_slice(args);
        op
    };
    let range = |a: u8, b: u8| vec![9u8, a, b];
    let reopen = || vec![11u8];
    let reader = || vec![12u8];
    let seeds: Vec<(&str, Vec<Vec<u8>>)> = vec![
        (
            "appends-and-queries",
            vec![
                append(1, 2),
                append(0x15, 0x33),
                batch(5),
                query(0, &[]),
                query(1 | 2 | 0x40, &[0b0101, 1, 3]),
                count(8 | 16, &[0, 3]),
                range(0x10, 0x08),
            ],
        ),
        (
            "gaps-and-reopen",
            vec![
                append(3, 4),
                append_at(0, 40),
                append_at(6, 1),
                append_at(5, 0),
                append_at(4, 0),
                reopen(),
                range(0x50, 0x08),
                append(7, 8),
                reader(),
            ],
        ),
        (
            "rolls",
            vec![
                big(1, 100),
                big(2, 100),
                big(3, 100),
                append(4, 5),
                query(32, &[1, 0x01]),
                reopen(),
                big(5, 230),
                count(1, &[0x0f]),
                reader(),
            ],
        ),
        (
            "context-filters",
            vec![
                batch(8),
                batch(8),
                query(32 | 0x80, &[3, 0x00, 0x11, 0x1a]),
                count(32, &[1, 0x0e]),
                query(1, &[0]),
            ],
        ),
        (
            "kept-append-times",
            vec![
                append_at(0x40, 9),
                append_at(0x80, 9),
                reopen(),
                query(0, &[]),
            ],
        ),
    ];
    for (name, ops) in seeds {
        let input: Vec<u8> = ops.into_iter().flatten().collect();
        write_seed("journal_ops", &format!("{name}.bin"), &input);
    }
}

#[test]
#[ignore = "rewrites the committed seed corpora; run on purpose only"]
fn regenerate_seed_corpora() {
    for target in [
        "decode_record",
        "decode_index",
        "open_directory",
        "import_line",
        "filter_json",
        "journal_ops",
    ] {
        let _ = std::fs::remove_dir_all(Path::new(FUZZ).join("corpus").join(target));
    }
    seed_decode_record();
    seed_decode_index();
    seed_import_line();
    seed_filter_json();
    seed_open_directory();
    seed_journal_ops();
}
