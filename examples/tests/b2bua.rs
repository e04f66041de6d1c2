//! The example B2BUA between two sipp instances: leg A from a sipp UAC, leg B to a
//! sipp UAS, every call answered through, the BYE of A propagated to B.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use sipcore::endpoint::{Endpoint, EndpointConfig};
use sipcore::pool::{ReceiverPool, ReusePortPool};
use sipcore::transport::udp::UdpConfig;
use sipcore::transport::Transport;
use sipcore_examples::b2bua::B2bua;

#[test]
fn calls_are_bridged_and_hang_up_reaches_the_other_leg() {
    let dir = common::Dir::new("b2bua");
    let uas = common::uas(&dir, &dir.scenario("uas.xml", &[]), "udp", 10);
    let u = uas.port;
    let pool = ReusePortPool::bind(&UdpConfig::new("127.0.0.1:0".parse().unwrap()), 2).unwrap();
    let local = pool.transport().local_addr();
    let endpoint = Endpoint::builder(EndpointConfig {
        shutdown_grace: Duration::from_millis(100),
        ..EndpointConfig::default()
    })
    .udp_pool(Box::new(pool))
    .start(Arc::new(B2bua::new(
        local,
        format!("127.0.0.1:{u}").parse().unwrap(),
    )))
    .unwrap();
    common::uac_ok(
        &dir,
        &dir.scenario("uac.xml", &[]),
        local.port(),
        "udp",
        &["-m", "10", "-r", "10"],
    );
    // The UAS saw 10 calls end with a BYE (its scenario waits for it).
    uas.wait_ok(Duration::from_secs(30));
    endpoint.shutdown();
}
