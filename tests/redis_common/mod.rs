//! Redis servers for the tests: the shared one named by `BALDUR_REDIS_URL`
//! (started by `.ci/run`), or a `redis-server` of the test's own on a free
//! loopback port (`--appendonly yes --appendfsync always --save ""`, in a
//! temporary directory), killed on drop. Without either, or with
//! `BALDUR_NO_REDIS` set, tests skip (tests/skip: a skip is a failure under
//! `CI` unless turned off on purpose). Test crates that include this module
//! also include `mod skip;`.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A server the test may use: the shared one, or its own.
pub struct Server {
    /// `redis://127.0.0.1:PORT/0` (no parameters).
    pub url: String,
    own: Option<Own>,
}

struct Own {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

fn redis_server_on_path() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

const NO_SERVER: &str = "redis-server is not on PATH (install Debian's redis-server)";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

fn spawn(port: u16, dir: &Path) -> Child {
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
            "--daemonize",
            "no",
            "--dir",
        ])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot start redis-server");
    wait_ready(port);
    child
}

/// Polls until the server answers PING (it may be loading its AOF).
fn wait_ready(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let url = format!("redis://127.0.0.1:{port}/0");
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok()
            && let Ok(client) = redis::Client::open(url.as_str())
            && let Ok(mut con) = client.get_connection_with_timeout(Duration::from_secs(1))
            && redis::cmd("PING").query::<String>(&mut con).is_ok()
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "redis-server on port {port} did not answer PING within 20 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// True when a server can be had; otherwise false after logging the skip
/// (tests/skip; panics under `CI`).
#[must_use]
pub fn available() -> bool {
    crate::skip::needs("redis", || {
        if std::env::var_os("BALDUR_REDIS_URL").is_some() || redis_server_on_path() {
            Ok(())
        } else {
            Err(NO_SERVER.to_string())
        }
    })
    .is_some()
}

impl Server {
    /// The shared server if `BALDUR_REDIS_URL` is set, else one of our own;
    /// `None` when neither can be had or Redis is turned off (the test then
    /// returns early).
    #[must_use]
    pub fn shared_or_own() -> Option<Server> {
        crate::skip::needs("redis", || match std::env::var("BALDUR_REDIS_URL") {
            Ok(url) => Ok(Server { url, own: None }),
            Err(_) => Server::start_own(),
        })
    }

    /// A server of the test's own (for tests that kill or stop it); `None`
    /// as for [`Server::shared_or_own`].
    pub fn own() -> Option<Server> {
        crate::skip::needs("redis", Server::start_own)
    }

    fn start_own() -> Result<Server, String> {
        if !redis_server_on_path() {
            return Err(NO_SERVER.to_string());
        }
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = spawn(port, dir.path());
        Ok(Server {
            url: format!("redis://127.0.0.1:{port}/0"),
            own: Some(Own { child, port, dir }),
        })
    }

    fn own_mut(&mut self) -> &mut Own {
        self.own
            .as_mut()
            .expect("only a server of the test's own can be stopped")
    }

    /// Kills the server (SIGKILL) and waits for it to be gone.
    pub fn kill(&mut self) {
        let own = self.own_mut();
        let _ = own.child.kill();
        let _ = own.child.wait();
    }

    /// Freezes the server (SIGSTOP): connections stay open, nothing answers.
    pub fn freeze(&mut self) {
        let pid = self.own_mut().child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-STOP", &pid])
                .status()
                .unwrap()
                .success()
        );
    }

    /// Lets a frozen server go on (SIGCONT).
    pub fn thaw(&mut self) {
        let pid = self.own_mut().child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-CONT", &pid])
                .status()
                .unwrap()
                .success()
        );
    }

    /// Starts the killed server again on the same port and directory (it
    /// reloads its append-only file).
    pub fn restart(&mut self) {
        let own = self.own_mut();
        own.child = spawn(own.port, own.dir.path());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(own) = &mut self.own {
            let pid = own.child.id().to_string();
            let _ = Command::new("kill").args(["-CONT", &pid]).status();
            let _ = own.child.kill();
            let _ = own.child.wait();
        }
    }
}

/// A key prefix no other test (or test process) uses.
pub fn unique_prefix(name: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "test:{name}:{}:{nanos}:{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
