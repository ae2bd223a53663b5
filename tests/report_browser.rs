//! The demo's HTML report in a real browser (issue 19): headless Chromium
//! loads the page the demo wrote; the DOM it dumps holds every chart's SVG
//! with marks in it, every audit-trail link has its target, there is no
//! script; and its screenshot is not blank. Needs Debian's `chromium`
//! (`.ci/run` installs it; `BALDUR_CHROMIUM` names another browser
//! binary): skips visibly without it (or with BALDUR_NO_CHROMIUM set),
//! fails under CI.

use baldur_test_support::skip;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_baldur-journal");

/// Long enough for a cold Chromium on a busy machine; a hang fails.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(180);

/// Every chart the report draws, by its SVG's id, and the fewest marks
/// each must have with the demo's data.
const CHARTS: [(&str, usize); 8] = [
    ("chart-backlog", 10),
    ("chart-failure-types", 8 * 7),
    ("chart-breakers", 5),
    ("chart-sla", 3),
    ("chart-activity", 10),
    ("chart-status-mix", 10),
    ("chart-replays", 10),
    ("chart-health", 1),
];

/// The browser: `$BALDUR_CHROMIUM` when set, else `/usr/bin/chromium`
/// (Debian's), else `chromium` on the path.
fn chromium() -> Result<PathBuf, String> {
    let candidates = match std::env::var_os("BALDUR_CHROMIUM") {
        Some(path) => vec![PathBuf::from(path)],
        None => vec![
            PathBuf::from("/usr/bin/chromium"),
            PathBuf::from("chromium"),
        ],
    };
    for candidate in candidates {
        if let Ok(output) = Command::new(&candidate).arg("--version").output()
            && output.status.success()
        {
            return Ok(candidate);
        }
    }
    Err(
        "no chromium ($BALDUR_CHROMIUM, /usr/bin/chromium or on PATH): apt-get install chromium"
            .into(),
    )
}

/// Runs headless Chromium on `page` with `extra` arguments, a fresh
/// profile, nothing fetched in the background; returns its stdout.
fn run_chromium(browser: &Path, page: &Path, extra: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut command = Command::new(browser);
    command.args([
        "--headless",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ]);
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        // Chromium's sandbox refuses to run as root.
        command.arg("--no-sandbox");
    }
    command
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        // Files, not pipes: a DOM larger than a pipe's buffer would block
        // the browser while the test waits for it to exit.
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(profile.path().join("stdout")).unwrap())
        .stderr(std::fs::File::create(profile.path().join("stderr")).unwrap());
    let mut child = command.spawn().expect("chromium starts");
    let started = Instant::now();
    // Poll, so that a browser that hangs fails the test instead of it.
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            panic!("chromium did not finish in {BROWSER_TIMEOUT:?}: {extra:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = std::fs::read_to_string(profile.path().join("stderr")).unwrap_or_default();
    assert!(status.success(), "chromium {extra:?} failed: {stderr}");
    std::fs::read_to_string(profile.path().join("stdout")).expect("the DOM is UTF-8")
}

/// The `<svg ...>...</svg>` element with this id in `dom`.
fn svg_element<'a>(dom: &'a str, id: &str) -> Option<&'a str> {
    let at = dom.find(&format!("id=\"{id}\""))?;
    let start = dom[..at].rfind("<svg")?;
    let end = dom[start..].find("</svg>")? + start;
    Some(&dom[start..end])
}

#[test]
fn the_demo_report_renders_every_chart_in_chromium() {
    let Some(browser) = skip::needs("chromium", chromium) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    // A small demo: two weeks, enough for every chart to have marks.
    let demo = Command::new(BIN)
        .env_remove("BALDUR_JOURNAL_DIR")
        .arg("--dir")
        .arg(&dir)
        .args([
            "demo",
            "--entries",
            "2000",
            "--events",
            "3000",
            "--days",
            "14",
        ])
        .output()
        .unwrap();
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let page = tmp.path().join("baldur-report.html");
    assert!(page.is_file(), "the demo wrote {}", page.display());

    let dom = run_chromium(&browser, &page, &["--dump-dom"]);
    assert!(dom.contains("DLQ report"), "{dom:.500}");
    assert!(!dom.contains("<script"), "the report has no script");
    for (id, fewest) in CHARTS {
        let svg = svg_element(&dom, id).unwrap_or_else(|| panic!("no <svg id={id}> in the DOM"));
        let marks = svg.matches("class=\"mark\"").count();
        assert!(
            marks >= fewest,
            "{id}: {marks} marks, expected at least {fewest}"
        );
        assert!(svg.contains("class=\"legend\""), "{id} has a legend");
        assert!(svg.contains("class=\"axis-title\""), "{id} names its axes");
    }
    // Every link to an audit trail lands on a rendered trail.
    let links: Vec<&str> = dom
        .match_indices("href=\"#")
        .map(|(at, _)| {
            let rest = &dom[at + "href=\"#".len()..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect();
    assert!(
        !links.is_empty(),
        "the waiting entries link to their trails"
    );
    for link in links {
        assert!(
            dom.contains(&format!("id=\"{link}\"")),
            "the link #{link} has no target"
        );
    }

    let shot = tmp.path().join("report.png");
    run_chromium(
        &browser,
        &page,
        &[
            "--window-size=1320,1500",
            &format!("--screenshot={}", shot.display()),
        ],
    );
    let (width, height, pixels) = decode_rgb(&shot);
    assert_eq!((width, height), (1320, 1500));
    let white = pixels.iter().filter(|p| **p == [255, 255, 255]).count();
    let inked = 1.0 - white as f64 / pixels.len() as f64;
    assert!(
        inked > 0.05,
        "the screenshot is nearly blank: {inked:.3} inked"
    );
    // The charts' colours: the breaker's open red and the heat map's darkest blue.
    for (name, color) in [
        ("open red", [0xd6, 0x27, 0x28]),
        ("heat blue", [0x08, 0x30, 0x6b]),
    ] {
        let found = pixels.iter().filter(|p| **p == color).count();
        assert!(found > 50, "{name}: {found} pixels of {color:?}");
    }
}

/// The screenshot's size and its pixels as RGB.
fn decode_rgb(path: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let mut decoder = png::Decoder::new(file);
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buffer).unwrap();
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("unexpected PNG colour type {other:?}"),
    };
    let pixels = buffer[..info.buffer_size()]
        .chunks_exact(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width, info.height, pixels)
}
