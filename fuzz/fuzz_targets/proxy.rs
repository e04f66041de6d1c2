//! The proxy's request handling (routing policy, digest, registrar, forwarding, relay)
//! on arbitrary datagrams: no panic. The first byte picks the source (trusted or not,
//! UDP, TCP or TLS); one proxy lives across inputs, so state builds up as in a node.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sipcore::transport::{Target, TransportKind};
use sipcore_examples::config::Config;
use sipcore_examples::harness::InMemoryProxy;

const CONFIG: &str = "[server]\nlisten = [\"127.0.0.1:5060\"]\nnext_hop = \"127.0.0.1:5070\"\n\
[acl]\ntrusted = [\"127.0.0.9\"]\n\
[auth]\nregister = true\noutbound = true\n[[auth.users]]\nusername = \"alice\"\npassword = \"pw\"\n\
[[routes.prefix]]\nprefix = \"+1\"\ngateways = [{ address = \"127.0.0.1:5080\" }, { address = \"127.0.0.1:5081\", transport = \"tcp\" }]\n";

fn proxy() -> &'static InMemoryProxy {
    static P: OnceLock<InMemoryProxy> = OnceLock::new();
    P.get_or_init(|| {
        let cfg = Config::parse(CONFIG).expect("the fuzz configuration parses");
        InMemoryProxy::new(&cfg).expect("an in-memory proxy starts")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, msg)) = data.split_first() else {
        return;
    };
    let ip = if pick & 1 == 0 { [10, 0, 0, 1] } else { [127, 0, 0, 9] };
    let kind = match (pick >> 1) % 3 {
        0 => TransportKind::Udp,
        1 => TransportKind::Tcp,
        _ => TransportKind::Tls,
    };
    let px = proxy();
    px.receive(msg, Target::new(kind, (ip, 5062).into()));
    if pick >= 0xf0 {
        px.handle_timeout();
    }
    px.take_sent();
});
