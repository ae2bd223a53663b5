//! When a test needs something outside the Rust toolchain (a `redis-server`,
//! the Python reference, root to mount a tmpfs), [`needs`] decides whether
//! it runs:
//!
//! - `BALDUR_NO_<DEPENDENCY>` set (to anything but empty or `0`): the test
//!   is turned off on purpose and skips, also under `CI`;
//! - else the dependency's probe fails: the test skips, except under `CI`
//!   (set, and neither empty, `false` nor `0`), where it fails with the
//!   reason.
//!
//! Every skip (and every such failure) is one line, also printed, appended
//! to the file named by `BALDUR_SKIP_LOG` when set: `dependency`, `off`,
//! `unavailable` or `failed`, `test binary::test`, reason, separated by
//! tabs. `scripts/test.sh` prints them as its closing summary.

use std::io::Write;

/// Runs `probe` unless `BALDUR_NO_<DEPENDENCY>` turns the dependency off.
/// `Some` with what the probe found; `None` when the test is to skip
/// (after logging why); panics under `CI` when the probe fails.
pub fn needs<T>(dependency: &str, probe: impl FnOnce() -> Result<T, String>) -> Option<T> {
    let switch = format!("BALDUR_NO_{}", dependency.to_uppercase());
    if set(&switch) {
        record(dependency, "off", &format!("{switch} is set"));
        return None;
    }
    match probe() {
        Ok(found) => Some(found),
        Err(reason) if set("CI") => {
            record(dependency, "failed", &reason);
            panic!(
                "{dependency} is unavailable under CI (set {switch}=1 to turn it off): {reason}"
            );
        }
        Err(reason) => {
            record(dependency, "unavailable", &reason);
            None
        }
    }
}

/// An environment switch: set, and neither empty, `false` nor `0`.
fn set(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false"))
}

fn record(dependency: &str, kind: &str, reason: &str) {
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .map(|stem| match stem.rsplit_once('-') {
            Some((name, _hash)) => name.to_string(),
            None => stem,
        })
        .unwrap_or_default();
    let test = std::thread::current().name().unwrap_or("?").to_string();
    let reason = reason.split_whitespace().collect::<Vec<_>>().join(" ");
    eprintln!("{binary}::{test}: {dependency} {kind}: {reason}");
    let line = format!("{dependency}\t{kind}\t{binary}::{test}\t{reason}\n");
    if let Some(path) = std::env::var_os("BALDUR_SKIP_LOG") {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("cannot open BALDUR_SKIP_LOG {path:?}: {e}"));
        file.write_all(line.as_bytes())
            .unwrap_or_else(|e| panic!("cannot write BALDUR_SKIP_LOG {path:?}: {e}"));
    }
}

/// The interpreter of the reference (`BALDUR_PYTHON`, else the venv that
/// `.ci/run` makes) once it imports `modules` (comma-separated, as in a
/// Python `import`) with baldur-framework 1.17.1; `None` when the test is
/// to skip (dependency `python`, see [`needs`]).
#[must_use]
pub fn reference_python(modules: &str) -> Option<std::path::PathBuf> {
    needs("python", || {
        let path = std::env::var_os("BALDUR_PYTHON")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| std::path::PathBuf::from("/tmp/baldur-venv/bin/python"));
        if !path.exists() {
            return Err(format!(
                "no Python at {} (set BALDUR_PYTHON, or run .ci/run)",
                path.display()
            ));
        }
        let probe = std::process::Command::new(&path)
            .args([
                "-c",
                &format!(
                    "import {modules}, importlib.metadata as m; \
                     assert m.version('baldur-framework') == '1.17.1', m.version('baldur-framework')"
                ),
            ])
            .output()
            .map_err(|e| format!("cannot run {}: {e}", path.display()))?;
        if probe.status.success() {
            return Ok(path);
        }
        let stderr = String::from_utf8_lossy(&probe.stderr);
        Err(format!(
            "{} cannot import {modules} with baldur-framework==1.17.1: {}",
            path.display(),
            stderr.trim().lines().last().unwrap_or("")
        ))
    })
}
