//! Mutated SIP messages of every kind the proxy handles (initial requests to gateways
//! with credentials, REGISTERs with Authorization, in-dialog requests with Routes,
//! CANCEL, ACK, responses), from trusted and untrusted sources, into the proxy on
//! recording transports: no panic, and the proxy still answers afterwards. The same
//! harness is the `proxy` fuzz target (`fuzz/fuzz_targets/proxy.rs`) for long runs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sipcore::transport::{Target, TransportKind};
use sipcore_examples::config::Config;
use sipcore_examples::harness::InMemoryProxy;

const CONFIG: &str = "[server]\nlisten = [\"127.0.0.1:5060\"]\nnext_hop = \"127.0.0.1:5070\"\n\
[acl]\ntrusted = [\"127.0.0.9\"]\n\
[auth]\nregister = true\noutbound = true\n[[auth.users]]\nusername = \"alice\"\npassword = \"pw\"\n\
[[routes.prefix]]\nprefix = \"+1\"\ngateways = [{ address = \"127.0.0.1:5080\" }, { address = \"127.0.0.1:5081\", transport = \"tcp\" }]\n";

const SEEDS: &[&str] = &[
    "INVITE sip:+15551234@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKa1;rport\r\nFrom: \"A\" <sip:alice@127.0.0.1>;tag=f1\r\nTo: <sip:+15551234@127.0.0.1>\r\nCall-ID: c1@h\r\nCSeq: 2 INVITE\r\nMax-Forwards: 70\r\nContact: <sip:alice@10.0.0.1:5062>\r\nProxy-Authorization: Digest username=\"alice\", realm=\"sipcore\", nonce=\"1a0123456789abcdef0123456789abcdef\", uri=\"sip:+15551234@127.0.0.1\", response=\"0123456789abcdef0123456789abcdef\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"x\"\r\nContent-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n",
    "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 10.0.0.1:5062;branch=z9hG4bKr1;alias\r\nFrom: <sip:alice@127.0.0.1>;tag=r1\r\nTo: <sip:alice@127.0.0.1>\r\nCall-ID: r1\r\nCSeq: 1 REGISTER\r\nContact: <sip:alice@10.0.0.1:5062;transport=tcp>;expires=600, *\r\nAuthorization: Digest username=\"alice\",realm=\"sipcore\",nonce=\"abc\",uri=\"sip:127.0.0.1\",response=\"00\"\r\nExpires: 600\r\nContent-Length: 0\r\n\r\n",
    "BYE sip:bob@10.0.0.2:5064 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKb1;received=1.2.3.4\r\nRoute: <sip:127.0.0.1:5060;lr>, <sip:127.0.0.1;transport=tcp;lr>, <sip:10.0.0.3;lr>\r\nFrom: <sip:alice@127.0.0.1>;tag=f1\r\nTo: <sip:bob@127.0.0.1>;tag=t1\r\nCall-ID: c1@h\r\nCSeq: 3 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
    "BYE sip:127.0.0.1:5060;lr SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKs1\r\nRoute: <sip:10.0.0.3;lr>, <sip:bob@10.0.0.2:5064>\r\nFrom: <sip:alice@127.0.0.1>;tag=f1\r\nTo: <sip:bob@127.0.0.1>;tag=t1\r\nCall-ID: c2\r\nCSeq: 3 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
    "CANCEL sip:+15551234@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKa1;rport\r\nFrom: \"A\" <sip:alice@127.0.0.1>;tag=f1\r\nTo: <sip:+15551234@127.0.0.1>\r\nCall-ID: c1@h\r\nCSeq: 2 CANCEL\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
    "ACK sip:bob@10.0.0.2:5064 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKk1\r\nRoute: <sip:127.0.0.1:5060;lr>\r\nFrom: <sip:alice@127.0.0.1>;tag=f1\r\nTo: <sip:bob@127.0.0.1>;tag=t1\r\nCall-ID: c1@h\r\nCSeq: 2 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
    "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKforged-01234567\r\nVia: SIP/2.0/TCP 10.6.6.6:80;branch=z9hG4bKx\r\nRecord-Route: <sip:127.0.0.1:5060;lr>\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: c1@h\r\nCSeq: 2 INVITE\r\nContact: <sip:b@10.0.0.2>\r\nContent-Length: 0\r\n\r\n",
    "SIP/2.0 407 Proxy Authentication Required\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx-00000000\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: c9\r\nCSeq: 1 INVITE\r\nProxy-Authenticate: Digest realm=\"gw\", nonce=\"n\", qop=\"auth\"\r\nContent-Length: 0\r\n\r\n",
    "OPTIONS sip:127.0.0.1 SIP/2.0\r\nv: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKo1\r\nf: <sip:x@y>;tag=1\r\nt: <sip:127.0.0.1>\r\ni: o1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 0\r\nProxy-Require: foo\r\nl: 0\r\n\r\n",
];

/// xorshift64*: a fixed sequence, so a failure is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b";tag=",
    b";lr",
    b"<sip:127.0.0.1:5060;lr>",
    b",",
    b"\0",
    b"\r",
    b"\n",
    b"%",
    b"Route: <sip:127.0.0.1;lr>\r\n",
    b"To: <sip:b@x>;tag=9\r\n",
    b"sips:",
    b"tel:+1",
    b"[::1]",
    b";transport=tcp",
    b";maddr=10.0.0.9",
    b"Max-Breadth: 0\r\n",
    b"Contact: *\r\n",
    b"qop=auth",
];

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut m = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(m.len() + 1);
        match rng.below(4) {
            0 => {
                if at < m.len() {
                    m[at] = rng.next() as u8;
                }
            }
            1 => {
                let end = (at + rng.below(16)).min(m.len());
                m.drain(at..end);
            }
            2 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                m.splice(at..at, t.iter().copied());
            }
            _ => {
                // Duplicate a slice (long headers, repeated values).
                let end = (at + rng.below(64)).min(m.len());
                let piece: Vec<u8> = m[at..end].to_vec();
                m.splice(at..at, piece);
            }
        }
    }
    m
}

#[test]
fn mutated_messages_do_not_break_the_proxy() {
    let px = InMemoryProxy::new(&Config::parse(CONFIG).unwrap()).unwrap();
    let mut rng = Rng(0x5eed_5eed_1234_5678);
    let sources = [
        Target::udp("10.0.0.1:5062".parse().unwrap()),
        Target::udp("127.0.0.9:5062".parse().unwrap()),
        Target::new(TransportKind::Tcp, "10.0.0.1:40000".parse().unwrap()),
        Target::new(TransportKind::Tls, "[2001:db8::1]:40001".parse().unwrap()),
    ];
    for i in 0..20_000 {
        let seed = SEEDS[rng.below(SEEDS.len())].as_bytes();
        let input = if i % 10 == 0 {
            seed.to_vec()
        } else {
            mutate(&mut rng, seed)
        };
        px.receive(&input, sources[rng.below(sources.len())]);
        if i % 1000 == 0 {
            px.handle_timeout();
            px.take_sent();
        }
    }
    // The inputs reached every path: forwards, challenges, ACKs, stray responses.
    let m = &px.proxy.metrics;
    use std::sync::atomic::Ordering::Relaxed;
    assert!(m.branches.load(Relaxed) > 0);
    assert!(m.refusals(sipcore_examples::metrics::Refusal::AuthChallenge) > 0);
    assert!(m.acks_forwarded.load(Relaxed) + m.acks_dropped.load(Relaxed) > 0);
    assert!(m.stray_responses.load(Relaxed) > 0);
    // Still serving: a fresh OPTIONS is answered.
    px.take_sent();
    let from = Target::udp("192.0.2.1:5060".parse().unwrap());
    px.receive(
        b"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKfinal\r\n\
          From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: final\r\nCSeq: 1 OPTIONS\r\n\
          Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        from,
    );
    let sent = px.take_sent();
    assert!(
        sent.iter()
            .any(|(t, b)| *t == from && b.starts_with(b"SIP/2.0 200")),
        "{sent:?}"
    );
}
