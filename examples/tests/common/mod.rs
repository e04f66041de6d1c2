//! Test harness: the proxy in-process on free loopback ports, sipp instances around it.
//! sipp is required: without it these tests fail (`./scripts/test.sh` installs it).

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_methods
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use sipcore_examples::config::Config;
use sipcore_examples::server::{self, Running};

pub mod cases;
pub mod responder;

/// `listen` of a proxy on loopback for transport `t` (`udp`, `tcp`, `tls`) on a port the
/// kernel picks; read it back with [`port_of`].
pub fn listen_on(t: &str) -> String {
    format!("listen = [\"{t}:127.0.0.1:0\"]")
}

/// The port the proxy bound for transport `t`.
pub fn port_of(px: &Running, t: &str) -> u16 {
    let addr = match t {
        "udp" => px.udp.first().copied(),
        "tcp" => px.tcp.as_ref().and_then(|t| t.listeners().first().copied()),
        "tls" => px.tls.as_ref().and_then(|t| t.listeners().first().copied()),
        other => panic!("unknown transport {other:?}"),
    };
    addr.expect("the proxy listens on that transport").port()
}

/// A port for a sipp instance (sipp binds its own): random, below the kernel's
/// ephemeral range (where port-0 binds land). A port someone else holds makes sipp fail
/// with "Address already in use"; the callers then try another one.
fn sipp_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.write_u32(std::process::id());
    20_000 + (h.finish() % 12_000) as u16
}

/// Attempts at a free sipp port before giving up.
const PORT_TRIES: usize = 50;

/// sipp's complaint when its port is taken.
fn address_in_use(stderr: &[u8]) -> bool {
    let text = String::from_utf8_lossy(stderr);
    text.contains("errno = 98") || text.contains("Address already in use")
}

/// Whether process `pid` holds a socket bound to 127.0.0.1:`port` (`tcp`: listening),
/// from `/proc/net/{udp,tcp}` and the process's descriptors.
fn bound_by(pid: u32, port: u16, transport: &str) -> bool {
    let (table, state) = if transport == "udp" {
        ("/proc/net/udp", "07")
    } else {
        ("/proc/net/tcp", "0A")
    };
    let want = format!("0100007F:{port:04X}");
    let inodes: Vec<String> = std::fs::read_to_string(table)
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 9 && f[1] == want && f[3] == state).then(|| format!("socket:[{}]", f[9]))
        })
        .collect();
    if inodes.is_empty() {
        return false;
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .map(|l| inodes.iter().any(|i| l.as_os_str() == i.as_str()))
            .unwrap_or(false)
    })
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
    /// The port it listens on.
    pub port: u16,
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

/// Starts a sipp UAS handling `calls` calls on a port of its own ([`Bg::port`]): a
/// random one, another when sipp finds it taken; returns once sipp holds it.
pub fn uas(dir: &Dir, scenario: &str, transport: &str, calls: u32) -> Bg {
    for _ in 0..PORT_TRIES {
        let port = sipp_port();
        let mut child = sipp_cmd(
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
        // Ready when its socket is bound; or it exited (port taken: try another).
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let out = child.wait_with_output().unwrap();
                assert!(
                    address_in_use(&out.stderr),
                    "sipp UAS {scenario} exited at start ({status:?}):\n{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                break;
            }
            if bound_by(child.id(), port, transport) {
                return Bg {
                    child: Some(child),
                    name: format!("sipp UAS {scenario}"),
                    port,
                };
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    panic!("no free port for sipp after {PORT_TRIES} tries");
}

/// Runs a sipp UAC against `proxy_port` to completion, from a port of its own (another
/// one when sipp finds it taken).
pub fn uac(dir: &Dir, scenario: &str, proxy_port: u16, transport: &str, args: &[&str]) -> Output {
    let remote = format!("127.0.0.1:{proxy_port}");
    for _ in 0..PORT_TRIES {
        let mut c = sipp_cmd(dir, scenario, sipp_port(), transport, args);
        c.arg(&remote);
        let out = c.args(["-timeout", "60s"]).output().unwrap();
        if out.status.success() || !address_in_use(&out.stderr) {
            return out;
        }
    }
    panic!("no free port for sipp after {PORT_TRIES} tries");
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
