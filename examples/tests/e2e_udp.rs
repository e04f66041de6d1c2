//! End-to-end tests over UDP: the proxy in-process, real sipp on both sides.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod common;

use std::time::Duration;

use common::*;

const T: &str = "udp";

fn next_hop_config(proxy: u16, next: u16) -> String {
    format!(
        "[server]\nlisten = [\"udp:127.0.0.1:{proxy}\"]\nnext_hop = \"127.0.0.1:{next}\"\nworkers = 2\n"
    )
}

#[test]
fn basic_calls_through_the_proxy() {
    let (p, u) = (free_port(), free_port());
    let dir = Dir::new("basic-udp");
    let px = proxy(&next_hop_config(p, u));
    let uas = uas(&dir, &dir.scenario("uas.xml", &[]), u, T, 20);
    uac_ok(
        &dir,
        &dir.scenario("uac.xml", &[]),
        p,
        T,
        &["-m", "20", "-r", "20"],
    );
    uas.wait_ok(Duration::from_secs(20));
    assert_eq!(
        px.proxy
            .metrics
            .acks_forwarded
            .load(std::sync::atomic::Ordering::Relaxed),
        20
    );
}

#[test]
fn reinvite_and_bye_follow_record_route() {
    let (p, u) = (free_port(), free_port());
    let dir = Dir::new("reinvite-udp");
    let _px = proxy(&next_hop_config(p, u));
    let uas = uas(&dir, &dir.scenario("uas_reinvite.xml", &[]), u, T, 5);
    uac_ok(
        &dir,
        &dir.scenario("uac_reinvite.xml", &[]),
        p,
        T,
        &["-m", "5", "-r", "10"],
    );
    uas.wait_ok(Duration::from_secs(20));
}

#[test]
fn cancel_gets_487() {
    let (p, u) = (free_port(), free_port());
    let dir = Dir::new("cancel-udp");
    let _px = proxy(&next_hop_config(p, u));
    let uas = uas(&dir, &dir.scenario("uas_cancel.xml", &[]), u, T, 5);
    uac_ok(
        &dir,
        &dir.scenario("uac_cancel.xml", &[]),
        p,
        T,
        &["-m", "5", "-r", "10"],
    );
    uas.wait_ok(Duration::from_secs(20));
}

#[test]
fn busy_here_is_relayed() {
    let (p, u) = (free_port(), free_port());
    let dir = Dir::new("486-udp");
    let _px = proxy(&next_hop_config(p, u));
    let uas = uas(&dir, &dir.scenario("uas_486.xml", &[]), u, T, 5);
    let sc = dir.scenario("uac_error.xml", &[("expect", "486"), ("maxfwd", "70")]);
    uac_ok(&dir, &sc, p, T, &["-m", "5", "-r", "10"]);
    uas.wait_ok(Duration::from_secs(20));
}

#[test]
fn max_forwards_zero_gets_483() {
    let (p, u) = (free_port(), free_port());
    let dir = Dir::new("483-udp");
    let px = proxy(&next_hop_config(p, u));
    let sc = dir.scenario("uac_error.xml", &[("expect", "483"), ("maxfwd", "0")]);
    uac_ok(&dir, &sc, p, T, &["-m", "3", "-r", "10"]);
    assert_eq!(
        px.proxy
            .metrics
            .refusals(sipcore_examples::metrics::Refusal::TooManyHops),
        3
    );
}

#[test]
fn options_to_the_proxy() {
    let p = free_port();
    let dir = Dir::new("options-udp");
    let _px = proxy(&format!("[server]\nlisten = [\"udp:127.0.0.1:{p}\"]\n"));
    uac_ok(
        &dir,
        &dir.scenario("uac_options.xml", &[]),
        p,
        T,
        &["-m", "3", "-r", "10"],
    );
}

#[test]
fn unknown_user_gets_404() {
    let p = free_port();
    let dir = Dir::new("404-udp");
    let _px = proxy(&format!("[server]\nlisten = [\"udp:127.0.0.1:{p}\"]\n"));
    let sc = dir.scenario("uac_error.xml", &[("expect", "404"), ("maxfwd", "70")]);
    uac_ok(&dir, &sc, p, T, &["-m", "2", "-r", "10", "-s", "nobody"]);
}

#[test]
fn register_with_digest_then_call_the_user() {
    let (p, u) = (free_port(), free_port());
    let dir = Dir::new("register-udp");
    let px = proxy(&format!(
        "[server]\nlisten = [\"udp:127.0.0.1:{p}\"]\n[auth]\nregister = true\nalgorithms = [\"MD5\"]\n\
         [[auth.users]]\nusername = \"alice\"\npassword = \"secret\"\n"
    ));
    let reg = dir.scenario("uac_register.xml", &[("contact_port", &u.to_string())]);
    uac_ok(
        &dir,
        &reg,
        p,
        T,
        &["-m", "1", "-au", "alice", "-ap", "secret"],
    );
    assert_eq!(px.proxy.registrar.as_ref().unwrap().len(), 1);
    let uas = uas(&dir, &dir.scenario("uas.xml", &[]), u, T, 3);
    uac_ok(
        &dir,
        &dir.scenario("uac.xml", &[]),
        p,
        T,
        &["-m", "3", "-r", "10", "-s", "alice"],
    );
    uas.wait_ok(Duration::from_secs(20));
}

#[test]
fn gateway_failover_after_503() {
    let (p, g1, g2) = (free_port(), free_port(), free_port());
    let dir = Dir::new("failover-udp");
    let px = proxy(&format!(
        "[server]\nlisten = [\"udp:127.0.0.1:{p}\"]\n[routes]\nblacklist_secs = 0\n\
         [[routes.prefix]]\nprefix = \"+4930\"\ngateways = [{{ address = \"127.0.0.1:{g1}\", priority = 1 }}, {{ address = \"127.0.0.1:{g2}\", priority = 2 }}]\n"
    ));
    let bad = uas(&dir, &dir.scenario("uas_503.xml", &[]), g1, T, 3);
    let good = uas(&dir, &dir.scenario("uas.xml", &[]), g2, T, 3);
    uac_ok(
        &dir,
        &dir.scenario("uac.xml", &[]),
        p,
        T,
        &["-m", "3", "-r", "10", "-s", "+4930123"],
    );
    bad.wait_ok(Duration::from_secs(20));
    good.wait_ok(Duration::from_secs(20));
    assert_eq!(
        px.proxy
            .metrics
            .failovers
            .load(std::sync::atomic::Ordering::Relaxed),
        3
    );
}

#[test]
fn short_load_run_without_failures() {
    let (p, u) = (free_port(), free_port());
    let dir = Dir::new("load-udp");
    let _px = proxy(&next_hop_config(p, u));
    let uas = uas(&dir, &dir.scenario("uas.xml", &[]), u, T, 5000);
    uac_ok(
        &dir,
        &dir.scenario("uac.xml", &[]),
        p,
        T,
        &["-m", "5000", "-r", "500"],
    );
    uas.wait_ok(Duration::from_secs(30));
}
