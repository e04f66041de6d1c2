//! Test harness: the proxy in-process on free loopback ports, sipp instances around it.
//! sipp is required: without it these tests fail (`./scripts/test.sh` installs it).

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_methods
)]

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use sipcore_examples::config::Config;
use sipcore_examples::server::{self, Running};

pub mod cases;
pub mod responder;

/// A free UDP port on loopback (also free for TCP with high probability).
pub fn free_port() -> u16 {
    loop {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = s.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn sipp_present() {
    let found = Command::new("sipp").arg("-v").output();
    assert!(
        found.is_ok(),
        "sipp is not installed: run ./scripts/test.sh, which installs it (apt-get install sip-tester)"
    );
}

/// A per-test working directory for sipp's files and substituted scenarios.
pub struct Dir(pub PathBuf);

impl Dir {
    pub fn new(name: &str) -> Dir {
        let d =
            std::env::temp_dir().join(format!("sipcore-proxy-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }

    /// A scenario of `tests/scenarios/` with `[key]` placeholders replaced.
    pub fn scenario(&self, name: &str, subst: &[(&str, &str)]) -> String {
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/scenarios")
            .join(name);
        let mut text = std::fs::read_to_string(&src).unwrap();
        for (k, v) in subst {
            text = text.replace(&format!("[{k}]"), v);
        }
        let out = self.0.join(name);
        std::fs::write(&out, text).unwrap();
        out.display().to_string()
    }
}

/// Starts the proxy from TOML text.
pub fn proxy(toml: &str) -> Running {
    let cfg = Config::parse(toml).unwrap();
    server::start(&cfg).unwrap()
}

/// A sipp instance in the background (a UAS), killed when dropped.
pub struct Bg {
    child: Option<Child>,
    name: String,
}

impl Bg {
    /// Waits for it to exit by itself (it was given `-m`) and checks it succeeded.
    pub fn wait_ok(mut self, limit: Duration) {
        let mut child = self.child.take().unwrap();
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let out = child.wait_with_output().unwrap();
                assert!(
                    status.success(),
                    "{} failed ({status:?}):\n{}\n{}",
                    self.name,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                return;
            }
            if start.elapsed() > limit {
                let _ = child.kill();
                let out = child.wait_with_output().unwrap();
                panic!(
                    "{} did not finish:\n{}",
                    self.name,
                    String::from_utf8_lossy(&out.stdout)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn sipp_cmd(dir: &Dir, scenario: &str, local_port: u16, transport: &str, args: &[&str]) -> Command {
    sipp_present();
    let mut c = Command::new("sipp");
    c.args([
        "-sf",
        scenario,
        "-i",
        "127.0.0.1",
        "-p",
        &local_port.to_string(),
    ])
    .args(["-t", if transport == "tcp" { "t1" } else { "u1" }])
    .args(["-nostdin", "-trace_err", "-timeout_error"])
    .args(args)
    .current_dir(&dir.0);
    c
}

/// Starts a sipp UAS on `port` handling `calls` calls.
pub fn uas(dir: &Dir, scenario: &str, port: u16, transport: &str, calls: u32) -> Bg {
    let child = sipp_cmd(
        dir,
        scenario,
        port,
        transport,
        &["-m", &calls.to_string(), "-timeout", "60s"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // sipp needs a moment to bind.
    std::thread::sleep(Duration::from_millis(300));
    Bg {
        child: Some(child),
        name: format!("sipp UAS {scenario}"),
    }
}

/// Runs a sipp UAC against `proxy_port` to completion.
pub fn uac(dir: &Dir, scenario: &str, proxy_port: u16, transport: &str, args: &[&str]) -> Output {
    let local = free_port();
    let remote = format!("127.0.0.1:{proxy_port}");
    let mut c = sipp_cmd(dir, scenario, local, transport, args);
    c.arg(&remote);
    c.args(["-timeout", "60s"]).output().unwrap()
}

/// [`uac`] and assert every call succeeded.
pub fn uac_ok(dir: &Dir, scenario: &str, proxy_port: u16, transport: &str, args: &[&str]) {
    let out = uac(dir, scenario, proxy_port, transport, args);
    assert!(
        out.status.success(),
        "sipp UAC {scenario} failed ({:?}):\n{}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        errors_log(dir)
    );
}

/// sipp's error logs in `dir`.
pub fn errors_log(dir: &Dir) -> String {
    let mut s = String::new();
    if let Ok(rd) = std::fs::read_dir(&dir.0) {
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().ends_with("errors.log") {
                s.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
            }
        }
    }
    s.chars().take(4000).collect()
}
