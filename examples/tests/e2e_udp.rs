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
