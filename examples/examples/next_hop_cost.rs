//! The cost of a host-name next hop against a numeric one, per proxied request, for
//! instruction counting (`benches/scripts/next-hop-cost.sh` runs it under valgrind):
//! OPTIONS in, forwarded, its 200 relayed, `N` times, on the in-memory proxy. With a
//! name the next hop is resolved through a real dnsmasq (SRV + A); after the first
//! request every resolution is answered from the cache, which is what is measured.
//!
//!   cargo run --release -p sipcore-examples --example next_hop_cost -- numeric|name N

#![allow(clippy::disallowed_methods)] // a driver program: it reads the clock

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sipcore::message::{HeaderId, Message};
use sipcore::transport::Target;
use sipcore_examples::config::Config;
use sipcore_examples::harness::InMemoryProxy;

fn options(n: u32) -> String {
    format!(
        "OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKc{n};rport\r\n\
         From: <sip:alice@192.0.2.1>;tag=f{n}\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: cost{n}@192.0.2.1\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nUser-Agent: cost/1\r\nContent-Length: 0\r\n\r\n"
    )
}

/// The 200 for a forwarded request (its Vias, From, To with a tag, Call-ID, CSeq).
fn ok_for(fwd: &[u8]) -> Option<Vec<u8>> {
    let Ok(Message::Request(r)) = Message::parse(bytes::Bytes::copy_from_slice(fwd)) else {
        return None;
    };
    let mut out = b"SIP/2.0 200 OK\r\n".to_vec();
    for (_, v) in r.values(HeaderId::Via) {
        out.extend_from_slice(b"Via: ");
        out.extend_from_slice(v);
        out.extend_from_slice(b"\r\n");
    }
    for (name, id) in [
        ("From", HeaderId::From),
        ("Call-ID", HeaderId::CallId),
        ("CSeq", HeaderId::CSeq),
    ] {
        out.extend_from_slice(format!("{name}: ").as_bytes());
        out.extend_from_slice(r.header(id)?);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"To: ");
    out.extend_from_slice(r.header(HeaderId::To)?);
    out.extend_from_slice(b";tag=gw\r\nContent-Length: 0\r\n\r\n");
    Some(out)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("numeric");
    let n: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let hop: SocketAddr = "127.0.0.1:5070".parse().unwrap_or_else(|_| unreachable!());
    let mut _dns = None;
    let next_hop = match mode {
        "name" => {
            let d = sipcore_testkit::Dnsmasq::start(&[
                "--local=/carrier.test/".to_string(),
                "--local-ttl=3600".to_string(),
                format!(
                    "--srv-host=_sip._udp.carrier.test,gw.carrier.test,{},10,0",
                    hop.port()
                ),
                "--host-record=gw.carrier.test,127.0.0.1".to_string(),
            ]);
            let s = format!(
                "next_hop = \"sip:carrier.test\"\n[dns]\nservers = [\"{}\"]\n",
                d.addr
            );
            _dns = Some(d);
            s
        }
        _ => format!("next_hop = \"{hop}\"\n"),
    };
    let toml = format!(
        "[server]\nlisten = [\"udp:127.0.0.1:5060\"]\nrate_limit = 0\n{}",
        next_hop.replacen("\n[dns]", "\n[acl]\ntrusted = [\"192.0.2.1\"]\n[dns]", 1)
    );
    let toml = if toml.contains("[acl]") {
        toml
    } else {
        format!("{toml}[acl]\ntrusted = [\"192.0.2.1\"]\n")
    };
    let cfg = Config::parse(&toml).unwrap_or_else(|e| panic!("{e}"));
    let px = InMemoryProxy::new(&cfg).unwrap_or_else(|e| panic!("{e}"));
    let caller = Target::udp("192.0.2.1:5062".parse().unwrap_or_else(|_| unreachable!()));
    let gw = Target::udp(hop);
    // Warm-up: the first request (the name resolved, the cache filled).
    let round = |i: u32, wait: bool| -> bool {
        px.receive(options(i).as_bytes(), caller);
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            let sent = px.take_sent();
            if let Some((_, fwd)) = sent
                .iter()
                .find(|(t, b)| *t == gw && b.starts_with(b"OPTIONS"))
            {
                if let Some(ok) = ok_for(fwd) {
                    px.receive(&ok, gw);
                }
                return true;
            }
            if !wait || Instant::now() > end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    assert!(round(0, true), "the warm-up request was not forwarded");
    let mut forwarded = 0;
    for i in 1..=n {
        if round(i, false) {
            forwarded += 1;
        }
    }
    println!("{mode} {n} forwarded={forwarded}");
}
