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

fn next_hop_config(t: &str, next: u16) -> String {
    format!(
        "[server]\n{}\nnext_hop = \"127.0.0.1:{next}\"\nworkers = 2\n[acl]\ntrusted = [\"127.0.0.1\"]\n",
        listen_on(t)
    )
}

pub fn basic_calls_through_the_proxy(t: &str) {
    let dir = Dir::new(&format!("basic-{t}"));
    let uas = uas(&dir, &dir.scenario("uas.xml", &[]), t, 20);
    let px = proxy(&next_hop_config(t, uas.port));
    let p = port_of(&px, t);
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
    let dir = Dir::new(&format!("reinvite-{t}"));
    let uas = uas(&dir, &dir.scenario("uas_reinvite.xml", &[]), t, 5);
    let px = proxy(&next_hop_config(t, uas.port));
    let p = port_of(&px, t);
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
    let dir = Dir::new(&format!("cancel-{t}"));
    let uas = uas(&dir, &dir.scenario("uas_cancel.xml", &[]), t, 5);
    let px = proxy(&next_hop_config(t, uas.port));
    let p = port_of(&px, t);
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
    let dir = Dir::new(&format!("486-{t}"));
    let uas = uas(&dir, &dir.scenario("uas_486.xml", &[]), t, 5);
    let px = proxy(&next_hop_config(t, uas.port));
    let p = port_of(&px, t);
    let sc = dir.scenario("uac_error.xml", &[("expect", "486"), ("maxfwd", "70")]);
    uac_ok(&dir, &sc, p, t, &["-m", "5", "-r", "10"]);
    uas.wait_ok(Duration::from_secs(20));
}

pub fn max_forwards_zero_gets_483(t: &str) {
    let dir = Dir::new(&format!("483-{t}"));
    // Never reached: the request is refused before it is relayed.
    let px = proxy(&next_hop_config(t, 9));
    let p = port_of(&px, t);
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
    let dir = Dir::new(&format!("options-{t}"));
    let px = proxy(&format!("[server]\n{}\n", listen_on(t)));
    let p = port_of(&px, t);
    uac_ok(
        &dir,
        &dir.scenario("uac_options.xml", &[]),
        p,
        t,
        &["-m", "3", "-r", "10"],
    );
}

pub fn unknown_user_gets_404(t: &str) {
    let dir = Dir::new(&format!("404-{t}"));
    let px = proxy(&format!("[server]\n{}\n", listen_on(t)));
    let p = port_of(&px, t);
    let sc = dir.scenario("uac_error.xml", &[("expect", "404"), ("maxfwd", "70")]);
    uac_ok(&dir, &sc, p, t, &["-m", "2", "-r", "10", "-s", "nobody"]);
}

pub fn register_with_digest_then_call_the_user(t: &str) {
    let dir = Dir::new(&format!("register-{t}"));
    let uas = uas(&dir, &dir.scenario("uas.xml", &[]), t, 3);
    let px = proxy(&format!(
        "[server]\n{}\n[auth]\nregister = true\nalgorithms = [\"MD5\"]\n\
         [[auth.users]]\nusername = \"alice\"\npassword = \"secret\"\n",
        listen_on(t)
    ));
    let p = port_of(&px, t);
    let reg = dir.scenario(
        "uac_register.xml",
        &[("contact_port", &uas.port.to_string())],
    );
    uac_ok(
        &dir,
        &reg,
        p,
        t,
        &["-m", "1", "-au", "alice", "-ap", "secret"],
    );
    assert_eq!(px.proxy.registrar.as_ref().unwrap().len(), 1);
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
    let dir = Dir::new(&format!("failover-{t}"));
    let bad = uas(&dir, &dir.scenario("uas_503.xml", &[]), t, 3);
    let good = uas(&dir, &dir.scenario("uas.xml", &[]), t, 3);
    let (g1, g2) = (bad.port, good.port);
    let px = proxy(&format!(
        "[server]\n{}\n[acl]\ntrusted = [\"127.0.0.1\"]\n[routes]\nblacklist_secs = 0\n\
         [[routes.prefix]]\nprefix = \"+4930\"\ngateways = [{{ address = \"127.0.0.1:{g1}\", transport = \"{t}\", priority = 1 }}, {{ address = \"127.0.0.1:{g2}\", transport = \"{t}\", priority = 2 }}]\n",
        listen_on(t)
    ));
    let p = port_of(&px, t);
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

/// A short load run: 2500 calls at 250 cps, none may fail. Figures under load are the
/// benches' (`benches/scripts`); this only proves the proxy carries concurrent calls
/// without losing one, so it must pass on a loaded 2-core machine too: the rate leaves
/// room, and a slow UAS is waited for (no_response_ms = 0: Timer B/F, 32 s) instead of
/// failed over after 5 s.
pub fn short_load_run_without_failures(t: &str) {
    let dir = Dir::new(&format!("load-{t}"));
    let uas = uas(&dir, &dir.scenario("uas.xml", &[]), t, 2500);
    let px = proxy(&next_hop_config(t, uas.port).replacen("[acl]", "no_response_ms = 0\n[acl]", 1));
    let p = port_of(&px, t);
    uac_ok(
        &dir,
        &dir.scenario("uac.xml", &[]),
        p,
        t,
        &["-m", "2500", "-r", "250"],
    );
    uas.wait_ok(Duration::from_secs(60));
}

/// Timer C (1 s here): a callee that rings for ever is cancelled, the caller gets 408.
pub fn timer_c_cancels_and_answers_408(t: &str) {
    let dir = Dir::new(&format!("timerc-{t}"));
    let uas = uas(&dir, &dir.scenario("uas_cancel.xml", &[]), t, 2);
    let px = proxy(&format!(
        "[server]\n{}\nnext_hop = \"127.0.0.1:{}\"\ntimer_c_secs = 1\n[acl]\ntrusted = [\"127.0.0.1\"]\n",
        listen_on(t),
        uas.port
    ));
    let p = port_of(&px, t);
    let sc = dir.scenario("uac_error.xml", &[("expect", "408"), ("maxfwd", "70")]);
    uac_ok(&dir, &sc, p, t, &["-m", "2", "-r", "10"]);
    uas.wait_ok(Duration::from_secs(20));
}
