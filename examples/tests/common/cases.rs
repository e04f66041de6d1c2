//! The end-to-end cases, each run over UDP (`e2e_udp.rs`) and TCP (`e2e_tcp.rs`): the
//! proxy in-process on its own ports, real sipp on both sides.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_methods
)]

use std::time::Duration;

use super::*;

fn next_hop_config(proxy: u16, next: u16) -> String {
    format!("[server]\nlisten = [\"127.0.0.1:{proxy}\"]\nnext_hop = \"127.0.0.1:{next}\"\nworkers = 2\n[acl]\ntrusted = [\"127.0.0.1\"]\n")
}

pub fn basic_calls_through_the_proxy(t: &str) {
    let (p, u) = (free_port(), free_port());
    let dir = Dir::new(&format!("basic-{t}"));
    let px = proxy(&next_hop_config(p, u));
    let uas = uas(&dir, &dir.scenario("uas.xml", &[]), u, t, 20);
    uac_ok(
        &dir,
        &dir.scenario("uac.xml", &[]),
        p,
        t,
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

pub fn reinvite_and_bye_follow_record_route(t: &str) {
    let (p, u) = (free_port(), free_port());
    let dir = Dir::new(&format!("reinvite-{t}"));
    let _px = proxy(&next_hop_config(p, u));
    let uas = uas(&dir, &dir.scenario("uas_reinvite.xml", &[]), u, t, 5);
    uac_ok(
        &dir,
        &dir.scenario("uac_reinvite.xml", &[]),
        p,
        t,
        &["-m", "5", "-r", "10"],
    );
    uas.wait_ok(Duration::from_secs(20));
}

pub fn cancel_gets_487(t: &str) {
    let (p, u) = (free_port(), free_port());
    let dir = Dir::new(&format!("cancel-{t}"));
    let _px = proxy(&next_hop_config(p, u));
    let uas = uas(&dir, &dir.scenario("uas_cancel.xml", &[]), u, t, 5);
    uac_ok(
        &dir,
        &dir.scenario("uac_cancel.xml", &[]),
        p,
        t,
        &["-m", "5", "-r", "10"],
    );
    uas.wait_ok(Duration::from_secs(20));
}

pub fn busy_here_is_relayed(t: &str) {
    let (p, u) = (free_port(), free_port());
    let dir = Dir::new(&format!("486-{t}"));
    let _px = proxy(&next_hop_config(p, u));
    let uas = uas(&dir, &dir.scenario("uas_486.xml", &[]), u, t, 5);
    let sc = dir.scenario("uac_error.xml", &[("expect", "486"), ("maxfwd", "70")]);
    uac_ok(&dir, &sc, p, t, &["-m", "5", "-r", "10"]);
    uas.wait_ok(Duration::from_secs(20));
}

pub fn max_forwards_zero_gets_483(t: &str) {
    let (p, u) = (free_port(), free_port());
    let dir = Dir::new(&format!("483-{t}"));
    let px = proxy(&next_hop_config(p, u));
    let sc = dir.scenario("uac_error.xml", &[("expect", "483"), ("maxfwd", "0")]);
    uac_ok(&dir, &sc, p, t, &["-m", "3", "-r", "10"]);
    assert_eq!(
        px.proxy
            .metrics
            .refusals(sipcore_examples::metrics::Refusal::TooManyHops),
        3
    );
}

pub fn options_to_the_proxy(t: &str) {
    let p = free_port();
    let dir = Dir::new(&format!("options-{t}"));
    let _px = proxy(&format!("[server]\nlisten = [\"127.0.0.1:{p}\"]\n"));
    uac_ok(
        &dir,
        &dir.scenario("uac_options.xml", &[]),
        p,
        t,
        &["-m", "3", "-r", "10"],
    );
}

pub fn unknown_user_gets_404(t: &str) {
    let p = free_port();
    let dir = Dir::new(&format!("404-{t}"));
    let _px = proxy(&format!("[server]\nlisten = [\"127.0.0.1:{p}\"]\n"));
    let sc = dir.scenario("uac_error.xml", &[("expect", "404"), ("maxfwd", "70")]);
    uac_ok(&dir, &sc, p, t, &["-m", "2", "-r", "10", "-s", "nobody"]);
}

pub fn register_with_digest_then_call_the_user(t: &str) {
    let (p, u) = (free_port(), free_port());
    let dir = Dir::new(&format!("register-{t}"));
    let px = proxy(&format!(
        "[server]\nlisten = [\"127.0.0.1:{p}\"]\n[auth]\nregister = true\nalgorithms = [\"MD5\"]\n\
         [[auth.users]]\nusername = \"alice\"\npassword = \"secret\"\n"
    ));
    let reg = dir.scenario("uac_register.xml", &[("contact_port", &u.to_string())]);
    uac_ok(
        &dir,
        &reg,
        p,
        t,
        &["-m", "1", "-au", "alice", "-ap", "secret"],
    );
    assert_eq!(px.proxy.registrar.as_ref().unwrap().len(), 1);
    let uas = uas(&dir, &dir.scenario("uas.xml", &[]), u, t, 3);
    uac_ok(
        &dir,
        &dir.scenario("uac.xml", &[]),
        p,
        t,
        &["-m", "3", "-r", "10", "-s", "alice"],
    );
    uas.wait_ok(Duration::from_secs(20));
}

pub fn gateway_failover_after_503(t: &str) {
    let (p, g1, g2) = (free_port(), free_port(), free_port());
    let dir = Dir::new(&format!("failover-{t}"));
    let px = proxy(&format!(
        "[server]\nlisten = [\"127.0.0.1:{p}\"]\n[acl]\ntrusted = [\"127.0.0.1\"]\n[routes]\nblacklist_secs = 0\n\
         [[routes.prefix]]\nprefix = \"+4930\"\ngateways = [{{ address = \"127.0.0.1:{g1}\", transport = \"{t}\", priority = 1 }}, {{ address = \"127.0.0.1:{g2}\", transport = \"{t}\", priority = 2 }}]\n"
    ));
    let bad = uas(&dir, &dir.scenario("uas_503.xml", &[]), g1, t, 3);
    let good = uas(&dir, &dir.scenario("uas.xml", &[]), g2, t, 3);
    uac_ok(
        &dir,
        &dir.scenario("uac.xml", &[]),
        p,
        t,
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

pub fn short_load_run_without_failures(t: &str) {
    let (p, u) = (free_port(), free_port());
    let dir = Dir::new(&format!("load-{t}"));
    let _px = proxy(&next_hop_config(p, u));
    let uas = uas(&dir, &dir.scenario("uas.xml", &[]), u, t, 5000);
    uac_ok(
        &dir,
        &dir.scenario("uac.xml", &[]),
        p,
        t,
        &["-m", "5000", "-r", "500"],
    );
    uas.wait_ok(Duration::from_secs(30));
}

/// Timer C (1 s here): a callee that rings for ever is cancelled, the caller gets 408.
pub fn timer_c_cancels_and_answers_408(t: &str) {
    let (p, u) = (free_port(), free_port());
    let dir = Dir::new(&format!("timerc-{t}"));
    let _px = proxy(&format!(
        "[server]\nlisten = [\"127.0.0.1:{p}\"]\nnext_hop = \"127.0.0.1:{u}\"\ntimer_c_secs = 1\n[acl]\ntrusted = [\"127.0.0.1\"]\n"
    ));
    let uas = uas(&dir, &dir.scenario("uas_cancel.xml", &[]), u, t, 2);
    let sc = dir.scenario("uac_error.xml", &[("expect", "408"), ("maxfwd", "70")]);
    uac_ok(&dir, &sc, p, t, &["-m", "2", "-r", "10"]);
    uas.wait_ok(Duration::from_secs(20));
}
