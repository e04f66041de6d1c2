//! End-to-end tests over UDP: the proxy in-process, real sipp on both sides.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod common;

use common::cases;

#[test]
fn basic_calls_through_the_proxy() {
    cases::basic_calls_through_the_proxy("udp");
}

#[test]
fn reinvite_and_bye_follow_record_route() {
    cases::reinvite_and_bye_follow_record_route("udp");
}

#[test]
fn cancel_gets_487() {
    cases::cancel_gets_487("udp");
}

#[test]
fn busy_here_is_relayed() {
    cases::busy_here_is_relayed("udp");
}

#[test]
fn max_forwards_zero_gets_483() {
    cases::max_forwards_zero_gets_483("udp");
}

#[test]
fn options_to_the_proxy() {
    cases::options_to_the_proxy("udp");
}

#[test]
fn timer_c_cancels_and_answers_408() {
    cases::timer_c_cancels_and_answers_408("udp");
}

#[test]
fn unknown_user_gets_404() {
    cases::unknown_user_gets_404("udp");
}

#[test]
fn register_with_digest_then_call_the_user() {
    cases::register_with_digest_then_call_the_user("udp");
}

#[test]
fn gateway_failover_after_503() {
    cases::gateway_failover_after_503("udp");
}

#[test]
fn short_load_run_without_failures() {
    cases::short_load_run_without_failures("udp");
}

/// A call that comes in over UDP and leaves over TCP (a TCP gateway): the proxy
/// record-routes twice, and the ACK and BYE find their way back across the transports.
#[test]
fn double_record_route_across_transports() {
    use std::time::Duration;
    let dir = common::Dir::new("double-rr");
    let uas = common::uas(&dir, &dir.scenario("uas.xml", &[]), "tcp", 3);
    let g = uas.port;
    let px = common::proxy(&format!(
        "[server]\nlisten = [\"udp:127.0.0.1:0\", \"tcp:127.0.0.1:0\"]\n[acl]\ntrusted = [\"127.0.0.1\"]\n\
         [[routes.prefix]]\nprefix = \"+1\"\ngateways = [{{ address = \"127.0.0.1:{g}\", transport = \"tcp\" }}]\n"
    ));
    let p = common::port_of(&px, "udp");
    common::uac_ok(
        &dir,
        &dir.scenario("uac.xml", &[]),
        p,
        "udp",
        &["-m", "3", "-r", "10", "-s", "+1555"],
    );
    uas.wait_ok(Duration::from_secs(20));
}

/// Two contacts registered for one user: the call forks to both in parallel; one
/// answers 486, the other 200, and the caller gets the 200.
#[test]
fn parallel_fork_to_registered_contacts() {
    use std::time::Duration;
    let dir = common::Dir::new("fork");
    let ok = common::uas(&dir, &dir.scenario("uas.xml", &[]), "udp", 1);
    let busy = common::uas(&dir, &dir.scenario("uas_486.xml", &[]), "udp", 1);
    let (a, b) = (ok.port, busy.port);
    let px = common::proxy(
        "[server]\nlisten = [\"udp:127.0.0.1:0\"]\n[auth]\nregister = true\nalgorithms = [\"MD5\"]\n\
         [[auth.users]]\nusername = \"alice\"\npassword = \"secret\"\n",
    );
    let p = common::port_of(&px, "udp");
    for port in [a, b] {
        let reg = dir.scenario("uac_register.xml", &[("contact_port", &port.to_string())]);
        common::uac_ok(
            &dir,
            &reg,
            p,
            "udp",
            &["-m", "1", "-au", "alice", "-ap", "secret"],
        );
    }
    let now = std::time::Instant::now();
    assert_eq!(
        px.proxy
            .registrar
            .as_ref()
            .unwrap()
            .lookup("alice", now)
            .len(),
        2
    );
    common::uac_ok(
        &dir,
        &dir.scenario("uac.xml", &[]),
        p,
        "udp",
        &["-m", "1", "-s", "alice"],
    );
    ok.wait_ok(Duration::from_secs(20));
    busy.wait_ok(Duration::from_secs(20));
}
