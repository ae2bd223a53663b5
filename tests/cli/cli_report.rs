//! `report --html FILE` (issue 19): one self-contained page, every chart
//! drawn, the waiting entries linked to their rendered trails; --since and
//! --until choose the days, --as-of the past; --verify shows the verify
//! result and exits 1 on a problem; usage mistakes exit 2.

use crate::cli_common::*;

/// The SVG ids of every chart the page draws.
const CHARTS: [&str; 8] = [
    "chart-backlog",
    "chart-failure-types",
    "chart-breakers",
    "chart-sla",
    "chart-activity",
    "chart-status-mix",
    "chart-replays",
    "chart-health",
];

fn report(dir: &std::path::Path, page: &std::path::Path, extra: &[&str]) -> assert_cmd::Command {
    let mut cmd = cli(dir);
    cmd.arg("report").arg("--html").arg(page).args(extra);
    cmd
}

#[test]
fn the_page_is_self_contained_and_links_each_waiting_entry_to_its_trail() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("j");
    make_dlq_journal(&dir);
    let page = tmp.path().join("report.html");
    let before = snapshot(&dir);
    let out = stdout(&run_ok(&mut report(&dir, &page, &[])));
    assert!(
        out.starts_with(&format!("wrote {}", page.display())),
        "{out}"
    );
    assert_eq!(snapshot(&dir), before, "the report only reads");
    let html = std::fs::read_to_string(&page).unwrap();
    for id in CHARTS {
        assert!(html.contains(&format!("id=\"{id}\"")), "{id}");
    }
    // Nothing loaded from elsewhere, nothing run.
    for banned in ["<script", " src=", "url(", "href=\"http", "@import"] {
        assert!(!html.contains(banned), "{banned} in the page");
    }
    // dlq-2 (escalated) and dlq-4 (pending) wait; dlq-2 is the older.
    let dlq2 = html.find("href=\"#trail-dlq-2\"").expect("dlq-2 is linked");
    let dlq4 = html.find("href=\"#trail-dlq-4\"").expect("dlq-4 is linked");
    assert!(dlq2 < dlq4, "oldest first");
    assert!(html.contains("<h3 id=\"trail-dlq-2\">"));
    assert!(html.contains("<h3 id=\"trail-dlq-4\">"));
    assert!(
        !html.contains("trail-dlq-3"),
        "a rejected entry does not wait"
    );
    // The breakers: payments flapped back to closed, orders is open.
    assert!(html.contains("payments ("), "{html:.300}");
    assert!(html.contains("orders ("));
}

#[test]
fn since_and_until_choose_the_days_and_as_of_the_past() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("j");
    make_dlq_journal(&dir);
    let page = tmp.path().join("report.html");
    let now = baldur_journal::Timestamp::now().as_unix_nanos();
    let since = (now - 10 * DAY_NS).div_euclid(DAY_NS) * DAY_NS;
    let time = |ns: i64| baldur_journal::Timestamp::from_unix_nanos(ns).to_string();
    let out = stdout(&run_ok(&mut report(
        &dir,
        &page,
        &[
            "--since",
            &time(since),
            "--until",
            &time(since + 5 * DAY_NS),
        ],
    )));
    assert!(out.contains(", 5 days,"), "{out}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("5 days charted"));

    run_ok(&mut report(&dir, &page, &["--as-of", "3"]));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("folded up to sequence 3 (3 records"),
        "{html:.600}"
    );
}

#[test]
fn usage_mistakes_exit_2_before_reading() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("j");
    make_dlq_journal(&dir);
    let page = tmp.path().join("report.html");
    for (flags, says) in [
        (
            &[
                "--since",
                "2025-01-02T00:00:00Z",
                "--until",
                "2025-01-01T00:00:00Z",
            ][..],
            "the window is empty",
        ),
        (
            &[
                "--as-of",
                "2025-01-01T00:00:00Z",
                "--now",
                "2025-01-02T00:00:00Z",
            ][..],
            "--now",
        ),
        (&["--since", "yesterday"][..], "RFC 3339"),
    ] {
        let output = run_code(&mut report(&dir, &page, flags), 2);
        let line = assert_one_line_error(&output);
        assert!(line.contains(says), "{flags:?}: {line}");
        assert!(!page.exists(), "{flags:?} wrote a page");
    }
}

#[test]
fn verify_shows_a_clean_journal_and_exits_1_on_a_broken_chain() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("j");
    make_chained_journal(&dir, None);
    let page = tmp.path().join("report.html");
    run_ok(&mut report(&dir, &page, &["--verify"]));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("<span class=\"good\">clean</span>"), "{html}");

    tamper(&dir, b"needs a human", b"needs a huma!");
    run_code(&mut report(&dir, &page, &["--verify"]), 1);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("problems found: 1</span>"), "{html}");
    assert!(html.contains("audit chain of dlq_entry"), "{html}");
}

#[test]
fn extreme_event_times_and_gaps_still_make_a_page() {
    // The golden journal: gaps, a sequence past u32::MAX, event times at
    // the ends of the range a timestamp holds.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("golden");
    golden_copy(&dir);
    let page = tmp.path().join("report.html");
    let out = stdout(&run_ok(&mut report(&dir, &page, &["--verify"])));
    assert!(
        out.contains(", 366 days,"),
        "at most 366 days are charted: {out}"
    );
    let html = std::fs::read_to_string(&page).unwrap();
    for id in CHARTS {
        assert!(html.contains(&format!("id=\"{id}\"")), "{id}");
    }
    assert!(html.contains("<span class=\"good\">clean</span>"));
}
