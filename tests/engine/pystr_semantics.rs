//! Checks `pystr` against the reference's `str()` vectors
//! (`reference/vectors/journal/str_semantics.jsonl`, docs/DESIGN.md).

use baldur_journal::pystr::{lookup, matches, python_str};
use serde::Deserialize;
use serde_json::value::RawValue;

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/reference/vectors/journal/str_semantics.jsonl"
);

/// The number of vectors when this test was written; fewer means the file was damaged.
const MIN_VECTORS: usize = 74;

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    value: &'a RawValue,
    python_str: String,
}

fn vectors(text: &str) -> Vec<Line<'_>> {
    let lines: Vec<Line<'_>> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(n, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("line {}: {e}: {l}", n + 1))
        })
        .collect();
    assert!(
        lines.len() >= MIN_VECTORS,
        "only {} vectors in {VECTORS}",
        lines.len()
    );
    lines
}

fn read_vectors() -> String {
    std::fs::read_to_string(VECTORS).unwrap_or_else(|e| panic!("cannot read {VECTORS}: {e}"))
}

#[test]
fn python_str_matches_every_vector() {
    let text = read_vectors();
    let mut failures = Vec::new();
    for line in vectors(&text) {
        let raw = line.value.get();
        let got = python_str(raw);
        if got != line.python_str {
            failures.push(format!(
                "value {raw}: got {got:?}, want {:?}",
                line.python_str
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn matches_agrees_with_python_str_on_every_vector() {
    let text = read_vectors();
    let mut failures = Vec::new();
    for line in vectors(&text) {
        let raw = line.value.get();
        let want = &line.python_str;
        // The value as the last of several members, with a decoy duplicate before it.
        let context = format!("{{\"k\": \"decoy\", \"o\": [1, {{\"k\": 2}}], \"k\" :\n{raw} }}");
        if lookup(&context, "k") != Some(raw) {
            failures.push(format!(
                "value {raw}: lookup gave {:?}",
                lookup(&context, "k")
            ));
        }
        if !matches(&context, "k", want) {
            failures.push(format!("value {raw}: matches(.., {want:?}) is false"));
        }
        for other in [format!("{want}x"), format!("x{want}"), format!("{want}0")] {
            if matches(&context, "k", &other) {
                failures.push(format!("value {raw}: matches(.., {other:?}) is true"));
            }
        }
        if want != "decoy" && matches(&context, "k", "decoy") {
            failures.push(format!("value {raw}: matched the earlier duplicate"));
        }
        let missing_matches_want = matches(&context, "missing", want);
        if !matches(&context, "missing", "None") || missing_matches_want != (want == "None") {
            failures.push(format!("value {raw}: a missing key must print None only"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
