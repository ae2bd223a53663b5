//! Throwaway PostgreSQL servers for the tests: Debian's `postgresql`
//! binaries (`initdb`, `postgres`) from `pg_config --bindir`, which are not
//! on PATH, run on a free loopback port in a temporary directory, killed
//! and removed on drop. Both refuse to run as root, so as root the server
//! runs as `nobody` (the directory is handed to it). Without the binaries,
//! or with `BALDUR_NO_POSTGRES` set, tests skip (tests/skip: a skip is a
//! failure under `CI` unless turned off on purpose).

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server: `url` is `postgres://postgres@127.0.0.1:PORT/postgres`.
pub struct Server {
    pub url: String,
    child: Child,
    dir: tempfile::TempDir,
}

/// The directory of `initdb` and `postgres`.
fn bindir() -> Result<PathBuf, String> {
    let mut candidates = Vec::new();
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        candidates.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    }
    if let Ok(dirs) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<PathBuf> = dirs.flatten().map(|d| d.path().join("bin")).collect();
        versions.sort();
        candidates.extend(versions.into_iter().rev());
    }
    candidates
        .into_iter()
        .find(|dir| dir.join("initdb").is_file() && dir.join("postgres").is_file())
        .ok_or_else(|| {
            "no initdb/postgres (pg_config --bindir, /usr/lib/postgresql/*/bin): install Debian's \
             postgresql"
                .to_string()
        })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// Runs as `nobody` when this process is root (initdb and postgres refuse
/// root), as itself otherwise.
fn unprivileged(command: &mut Command) -> &mut Command {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } == 0 {
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            command.pre_exec(|| {
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(65534) != 0
                    || libc::setuid(65534) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    command
}

impl Server {
    /// A new server, or `None` when the test is to skip.
    pub fn start() -> Option<Server> {
        let bin = crate::skip::needs("postgres", bindir)?;
        let dir = tempfile::Builder::new()
            .prefix("baldur-pg")
            .tempdir()
            .unwrap();
        // SAFETY: getuid has no preconditions.
        if unsafe { libc::getuid() } == 0 {
            let path = std::ffi::CString::new(dir.path().to_str().unwrap()).unwrap();
            // SAFETY: a valid NUL-terminated path.
            assert_eq!(unsafe { libc::chown(path.as_ptr(), 65534, 65534) }, 0);
        }
        let data = dir.path().join("data");
        let init = unprivileged(
            Command::new(bin.join("initdb"))
                .args([
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--no-sync",
                    "-D",
                ])
                .arg(&data)
                .current_dir(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::piped()),
        )
        .output()
        .unwrap();
        assert!(
            init.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        let port = free_port();
        let child = unprivileged(
            Command::new(bin.join("postgres"))
                .arg("-D")
                .arg(&data)
                .args(["-p", &port.to_string(), "-k"])
                .arg(dir.path())
                .args([
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "fsync=off",
                    "-c",
                    "max_connections=40",
                ])
                .current_dir(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )
        .spawn()
        .unwrap();
        let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        let server = Server { url, child, dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok()
                && postgres::Client::connect(&server.url, postgres::NoTls).is_ok()
            {
                return Some(server);
            }
            assert!(
                Instant::now() < deadline,
                "postgres did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGQUIT: immediate shutdown (the data is thrown away).
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGQUIT) };
        let _ = self.child.wait();
        let _ = &self.dir;
    }
}
