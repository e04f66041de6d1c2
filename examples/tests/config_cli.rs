//! The binary's command line and configuration errors: exit codes and messages that
//! name the key and the line.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn proxy(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sipcore-proxy"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(name: &str, text: &str) -> String {
    let p = std::env::temp_dir().join(format!("sipcore-proxy-cfg-{}-{name}", std::process::id()));
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn example_and_default_configs_check_ok() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/config/proxy.toml");
    assert_eq!(proxy(&["--config", example, "--check-config"]).0, 0);
    let (code, out, _) = proxy(&["--check-config"]);
    assert_eq!((code, out.trim()), (0, "configuration OK"));
}

#[test]
fn unknown_key_names_it_and_its_line() {
    let f = write(
        "unknown.toml",
        "[server]\nlisten = [\"127.0.0.1:5060\"]\n\nworkerz = 2\n",
    );
    let (code, _, err) = proxy(&["--config", &f, "--check-config"]);
    assert_eq!(code, 2);
    assert!(err.contains("line 4") && err.contains("workerz"), "{err}");
}

#[test]
fn bad_value_names_key_and_line() {
    let f = write(
        "bad.toml",
        "[server]\nlisten = [\"127.0.0.1:5060\"]\n\n[registrar]\nmin_expires = 900\nmax_expires = 60\n",
    );
    let (code, _, err) = proxy(&["--config", &f, "--check-config"]);
    assert_eq!(code, 2);
    assert!(err.contains("registrar.min_expires (line 5)"), "{err}");
    let f = write(
        "gw.toml",
        "[[routes.prefix]]\nprefix = \"+49\"\ngateways = [{ address = \"gw.example\" }]\n",
    );
    let (code, _, err) = proxy(&["--config", &f, "--check-config"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("routes.prefix.gateways.address") && err.contains("line 3"),
        "{err}"
    );
}

#[test]
fn type_errors_and_syntax_errors() {
    let f = write("type.toml", "[server]\nworkers = \"two\"\n");
    let (code, _, err) = proxy(&["--config", &f, "--check-config"]);
    assert_eq!(code, 2);
    assert!(err.contains("line 2") && err.contains("workers"), "{err}");
    let f = write("syntax.toml", "[server\n");
    assert_eq!(proxy(&["--config", &f, "--check-config"]).0, 2);
    assert_eq!(proxy(&["--config", "/nonexistent/proxy.toml"]).0, 2);
}

#[test]
fn flags_are_checked() {
    let (code, _, err) = proxy(&["--next-hop", "nowhere", "--check-config"]);
    assert_eq!(code, 2);
    assert!(err.contains("--next-hop"), "{err}");
    let (code, _, err) = proxy(&["--listen", "localhost", "--check-config"]);
    assert_eq!(code, 2);
    assert!(err.contains("--listen"), "{err}");
    assert_eq!(
        proxy(&["--pool", "shared", "--workers", "3", "--check-config"]).0,
        0
    );
    assert_eq!(proxy(&["--pool", "fastest", "--check-config"]).0, 2);
}

#[test]
fn tls_listen_needs_a_certificate() {
    let (code, _, err) = proxy(&["--listen", "tls:127.0.0.1:5061", "--check-config"]);
    assert_eq!(code, 2);
    assert!(err.contains("config error: tls.cert_file: "), "{err}");
    let f = write(
        "tls.toml",
        "[server]\nlisten = [\"tls:127.0.0.1:5061\"]\n[tls]\ncert_file = \"/nonexistent/proxy.crt\"\nkey_file = \"/nonexistent/proxy.key\"\n",
    );
    let (code, _, err) = proxy(&["--config", &f, "--check-config"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("tls.cert_file (line 4): /nonexistent/proxy.crt: "),
        "{err}"
    );
}
