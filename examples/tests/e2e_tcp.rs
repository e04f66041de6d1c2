//! End-to-end tests over TCP: the proxy in-process, real sipp on both sides.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod common;

use common::cases;

#[test]
fn basic_calls_through_the_proxy() {
    cases::basic_calls_through_the_proxy("tcp");
}

#[test]
fn reinvite_and_bye_follow_record_route() {
    cases::reinvite_and_bye_follow_record_route("tcp");
}

#[test]
fn cancel_gets_487() {
    cases::cancel_gets_487("tcp");
}

#[test]
fn busy_here_is_relayed() {
    cases::busy_here_is_relayed("tcp");
}

#[test]
fn max_forwards_zero_gets_483() {
    cases::max_forwards_zero_gets_483("tcp");
}

#[test]
fn options_to_the_proxy() {
    cases::options_to_the_proxy("tcp");
}

#[test]
fn timer_c_cancels_and_answers_408() {
    cases::timer_c_cancels_and_answers_408("tcp");
}

#[test]
fn unknown_user_gets_404() {
    cases::unknown_user_gets_404("tcp");
}

#[test]
fn register_with_digest_then_call_the_user() {
    cases::register_with_digest_then_call_the_user("tcp");
}

#[test]
fn gateway_failover_after_503() {
    cases::gateway_failover_after_503("tcp");
}

#[test]
fn short_load_run_without_failures() {
    cases::short_load_run_without_failures("tcp");
}

/// A next hop that refuses the connection: the caller gets 503 at once (the scenario
/// allows 1 s), not a 408 after Timer B.
#[test]
fn dead_next_hop_gets_503_at_once() {
    // Bound and never listening: the port stays ours, and connects to it are refused.
    let closed = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    closed
        .bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
    let dead = closed.local_addr().unwrap().as_socket().unwrap().port();
    let dir = common::Dir::new("dead-tcp");
    let px = common::proxy(&format!(
        "[server]\nlisten = [\"tcp:127.0.0.1:0\"]\nnext_hop = \"127.0.0.1:{dead}\"\n[acl]\ntrusted = [\"127.0.0.1\"]\n"
    ));
    let p = common::port_of(&px, "tcp");
    let sc = dir.scenario("uac_503_fast.xml", &[("maxfwd", "70")]);
    common::uac_ok(&dir, &sc, p, "tcp", &["-m", "3", "-r", "10"]);
}
