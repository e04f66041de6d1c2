//! Black-box attacks on the running proxy (loopback; the attacker's own listeners on
//! 127.0.0.2 and up, which Linux routes to lo), each next to its positive control: the
//! legitimate equivalent that must still work.
//!
//! Where a refusal has no answer to wait for (an ACK, a response), the test waits for
//! the proxy's counter of what it dropped, then checks that nothing reached the
//! attacker's socket.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod common;

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::responder::{headers, reply};
use sipcore_examples::auth::Algorithm;
use sipcore_examples::config::Config;
use sipcore_examples::metrics::Refusal;
use sipcore_examples::server::{self, Running};

const WAIT: Duration = Duration::from_secs(10);

fn socket(ip: &str) -> UdpSocket {
    let s = UdpSocket::bind((ip, 0)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s
}

fn start(toml: &str) -> Running {
    common::proxy(toml)
}

fn base(extra: &str) -> String {
    format!("[server]\nlisten = [\"udp:127.0.0.1:0\", \"tcp:127.0.0.1:0\"]\n{extra}")
}

/// A request from `from`'s socket (its address in the Via).
fn request(from: &UdpSocket, method: &str, uri: &str, call: &str, extra: &str) -> String {
    let me = from.local_addr().unwrap();
    format!(
        "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK{call}{method}\r\n\
         From: <sip:mallory@127.0.0.1>;tag=f{call}\r\nTo: <sip:victim@127.0.0.1>\r\n\
         Call-ID: {call}\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\n{extra}Content-Length: 0\r\n\r\n"
    )
}

fn send(s: &UdpSocket, to: SocketAddr, msg: &str) {
    s.send_to(msg.as_bytes(), to).unwrap();
}

fn recv(s: &UdpSocket) -> String {
    let mut buf = vec![0u8; 65536];
    let (n, _) = s.recv_from(&mut buf).expect("a message within the wait");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// The first non-1xx message.
fn final_response(s: &UdpSocket) -> String {
    loop {
        let r = recv(s);
        if !r.starts_with("SIP/2.0 1") {
            return r;
        }
    }
}

fn nothing_queued(s: &UdpSocket) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 2048];
    let r = s.recv_from(&mut buf);
    s.set_nonblocking(false).unwrap();
    matches!(r, Err(e) if e.kind() == ErrorKind::WouldBlock)
}

fn no_connection(l: &TcpListener) -> bool {
    l.set_nonblocking(true).unwrap();
    matches!(l.accept(), Err(e) if e.kind() == ErrorKind::WouldBlock)
}

/// Waits for a counter of the proxy to reach `n` (the event that it handled what it
/// was sent); the limit only bounds a failing test.
fn wait_for(what: &str, n: u64, f: impl Fn() -> u64) {
    let end = Instant::now() + WAIT;
    while f() < n {
        assert!(Instant::now() < end, "{what} never reached {n}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn udp_of(px: &Running) -> SocketAddr {
    px.udp[0]
}

fn tcp_of(px: &Running) -> SocketAddr {
    px.tcp.as_ref().unwrap().listeners()[0]
}

#[test]
fn the_embedded_default_configuration_is_no_open_relay() {
    let mut cfg = Config::embedded_default();
    cfg.server.listen = vec!["udp:127.0.0.1:0".into()];
    let px = server::start(&cfg).unwrap();
    let p = udp_of(&px);
    let victim = socket("127.0.0.2");
    let v = victim.local_addr().unwrap();
    let attacker = socket("127.0.0.3");
    for (i, method) in ["INVITE", "MESSAGE", "OPTIONS", "SUBSCRIBE"]
        .iter()
        .enumerate()
    {
        let uri = format!("sip:victim@{v}");
        send(
            &attacker,
            p,
            &request(&attacker, method, &uri, &format!("relay{i}"), ""),
        );
        let r = final_response(&attacker);
        assert!(
            r.starts_with("SIP/2.0 403 Relaying denied"),
            "{method}: {r}"
        );
    }
    assert!(nothing_queued(&victim));
    assert_eq!(px.proxy.metrics.refusals(Refusal::RelayDenied), 4);
    assert_eq!(px.proxy.metrics.branches.load(Ordering::Relaxed), 0);
    // Our own users: an unknown one is 404, not a relay.
    send(
        &attacker,
        p,
        &request(&attacker, "INVITE", &format!("sip:nobody@{p}"), "local", ""),
    );
    assert!(final_response(&attacker).starts_with("SIP/2.0 404"));
    // Same address, another port: not us (the port is compared).
    let other_port = format!("sip:victim@127.0.0.1:{}", p.port().wrapping_add(1).max(1));
    send(
        &attacker,
        p,
        &request(&attacker, "INVITE", &other_port, "port", ""),
    );
    assert!(final_response(&attacker).starts_with("SIP/2.0 403"));
}

#[test]
fn a_trusted_peer_may_relay_others_may_not() {
    let px = start(&base("[acl]\ntrusted = [\"127.0.0.4\"]\n"));
    let p = udp_of(&px);
    let victim = socket("127.0.0.2");
    let v = victim.local_addr().unwrap();
    let attacker = socket("127.0.0.3");
    let uri = format!("sip:victim@{v}");
    send(
        &attacker,
        p,
        &request(&attacker, "INVITE", &uri, "untrusted", ""),
    );
    assert!(final_response(&attacker).starts_with("SIP/2.0 403"));
    assert!(nothing_queued(&victim));
    // A preloaded Route to the victim does not help.
    let route = format!("Route: <sip:{v};lr>\r\n");
    send(
        &attacker,
        p,
        &request(
            &attacker,
            "INVITE",
            &format!("sip:x@{p}"),
            "preload",
            &route,
        ),
    );
    assert!(final_response(&attacker).starts_with("SIP/2.0 403"));
    assert!(nothing_queued(&victim));
    // Positive control: the trusted peer's request is relayed.
    let peer = socket("127.0.0.4");
    send(&peer, p, &request(&peer, "INVITE", &uri, "trusted", ""));
    let got = recv(&victim);
    assert!(got.starts_with(&format!("INVITE {uri} SIP/2.0")), "{got}");
}

/// A to-tagged request that carries no Route of ours is not forwarded (UDP, and TCP
/// to a port the sender picks); with our Record-Route it is (loose routing).
#[test]
fn in_dialog_requests_only_along_our_route() {
    let px = start(&base(""));
    let p = udp_of(&px);
    let t = tcp_of(&px);
    let attacker = socket("127.0.0.3");
    let victim = socket("127.0.0.2");
    let v = victim.local_addr().unwrap();
    let tcp_victim = TcpListener::bind("127.0.0.2:0").unwrap();
    let tv = tcp_victim.local_addr().unwrap();
    let tagged = |uri: &str, call: &str, extra: &str| {
        request(&attacker, "BYE", uri, call, extra).replace(
            "To: <sip:victim@127.0.0.1>",
            "To: <sip:victim@127.0.0.1>;tag=t1",
        )
    };
    for (uri, call) in [
        (format!("sip:victim@{v}"), "dlg-udp"),
        (format!("sip:victim@{tv};transport=tcp"), "dlg-tcp"),
    ] {
        send(&attacker, p, &tagged(&uri, call, ""));
        let r = final_response(&attacker);
        assert!(r.starts_with("SIP/2.0 404"), "{uri}: {r}");
    }
    assert!(nothing_queued(&victim));
    assert!(no_connection(&tcp_victim));
    assert_eq!(px.proxy.metrics.refusals(Refusal::NotInDialog), 2);
    // Positive control: the same requests with our Record-Route as Route.
    let ours = format!("Route: <sip:{p};lr>\r\n");
    send(
        &attacker,
        p,
        &tagged(&format!("sip:victim@{v}"), "rr-udp", &ours),
    );
    assert!(recv(&victim).starts_with("BYE "));
    let ours_tcp = format!("Route: <sip:{t};transport=tcp;lr>\r\n");
    send(
        &attacker,
        p,
        &tagged(
            &format!("sip:victim@{tv};transport=tcp"),
            "rr-tcp",
            &ours_tcp,
        ),
    );
    tcp_victim.set_nonblocking(false).unwrap();
    let (mut conn, _) = tcp_victim.accept().unwrap();
    conn.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 4];
    std::io::Read::read_exact(&mut conn, &mut buf).unwrap();
    assert_eq!(&buf, b"BYE ");
}

#[test]
fn an_ack_without_transaction_or_route_of_ours_is_dropped() {
    let px = start(&base(""));
    let p = udp_of(&px);
    let attacker = socket("127.0.0.3");
    let victim = socket("127.0.0.2");
    let v = victim.local_addr().unwrap();
    let ack = request(&attacker, "ACK", &format!("sip:victim@{v}"), "ack1", "").replace(
        "To: <sip:victim@127.0.0.1>",
        "To: <sip:victim@127.0.0.1>;tag=t1",
    );
    send(&attacker, p, &ack);
    let m = &px.proxy.metrics;
    wait_for("acks_dropped", 1, || m.acks_dropped.load(Ordering::Relaxed));
    assert!(nothing_queued(&victim));
    // Positive control: the ACK for a 2xx along our Record-Route goes through.
    let routed = ack.replace("ack1", "ack2").replace(
        "Content-Length: 0",
        &format!("Route: <sip:{p};lr>\r\nContent-Length: 0"),
    );
    send(&attacker, p, &routed);
    assert!(recv(&victim).starts_with("ACK "));
    wait_for("acks_forwarded", 1, || {
        m.acks_forwarded.load(Ordering::Relaxed)
    });
}

/// A forged 2xx whose top Via names the proxy is not relayed to the second Via's
/// address (UDP, nor over a new TCP connection).
#[test]
fn forged_responses_are_not_relayed() {
    let px = start(&base(""));
    let p = udp_of(&px);
    let attacker = socket("127.0.0.3");
    let victim = socket("127.0.0.2");
    let v = victim.local_addr().unwrap();
    let tcp_victim = TcpListener::bind("127.0.0.2:0").unwrap();
    let tv = tcp_victim.local_addr().unwrap();
    for (i, second) in [format!("SIP/2.0/UDP {v}"), format!("SIP/2.0/TCP {tv}")]
        .iter()
        .enumerate()
    {
        let forged = format!(
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP {p};branch=z9hG4bKforged{i}\r\n\
             Via: {second};branch=z9hG4bKvictim{i}\r\nFrom: <sip:a@x>;tag=1\r\n\
             To: <sip:b@x>;tag=2\r\nCall-ID: forged{i}\r\nCSeq: 1 INVITE\r\n\
             Content-Length: 5\r\n\r\nbytes"
        );
        send(&attacker, p, &forged);
    }
    let m = &px.proxy.metrics;
    wait_for("stray_responses", 2, || {
        m.stray_responses.load(Ordering::Relaxed)
    });
    assert!(nothing_queued(&victim));
    assert!(no_connection(&tcp_victim));
    // Positive control: a real transaction's 200 comes back to the caller.
    let px2 = start(&base("[acl]\ntrusted = [\"127.0.0.4\"]\n"));
    let uas = common::responder::UdpResponder::start(|req, _| {
        (!req.starts_with("ACK")).then(|| reply(req, "200 OK", ""))
    });
    let caller = socket("127.0.0.4");
    let uri = format!("sip:victim@{}", uas.addr);
    send(
        &caller,
        udp_of(&px2),
        &request(&caller, "OPTIONS", &uri, "real", ""),
    );
    assert!(final_response(&caller).starts_with("SIP/2.0 200"));
}

/// A digest Proxy-Authorization (or Authorization) answering `challenge`.
fn digest(
    header: &str,
    challenge: &str,
    user: &str,
    pass: &str,
    method: &str,
    uri: &str,
) -> String {
    let nonce = challenge
        .split("nonce=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap();
    let a = Algorithm::Sha256;
    let ha1 = a.hash(&[user.as_bytes(), b"sipcore", pass.as_bytes()]);
    let ha2 = a.hash(&[method.as_bytes(), uri.as_bytes()]);
    let r = a.hash(&[
        ha1.as_bytes(),
        nonce.as_bytes(),
        b"00000001",
        b"cn",
        b"auth",
        ha2.as_bytes(),
    ]);
    format!(
        "{header}: Digest username=\"{user}\", realm=\"sipcore\", nonce=\"{nonce}\", uri=\"{uri}\", \
         response=\"{r}\", algorithm=SHA-256, qop=auth, nc=00000001, cnonce=\"cn\"\r\n"
    )
}

/// Class-4 toll fraud: with `auth.outbound`, an INVITE towards a gateway is challenged
/// whatever its From (a stranger, a `tel:` URI, a percent-escaped local user) and
/// whether or not a Route is preloaded; credentials of one user do not place calls as
/// another; the legitimate caller gets through with our asserted identity.
#[test]
fn calls_to_gateways_need_the_callers_own_credentials() {
    let gw = socket("127.0.0.2");
    let g = gw.local_addr().unwrap();
    let px = start(&base(&format!(
        "[auth]\noutbound = true\n\
         [[auth.users]]\nusername = \"alice\"\npassword = \"wonder\"\n\
         [[auth.users]]\nusername = \"bob\"\npassword = \"builder\"\n\
         [[routes.prefix]]\nprefix = \"+1\"\ngateways = [{{ address = \"{g}\" }}]\n"
    )));
    let p = udp_of(&px);
    let caller = socket("127.0.0.3");
    let uri = format!("sip:+15551234@{p}");
    let froms = [
        "<sip:mallory@127.0.0.1>".to_string(),
        "<tel:+4930123>".to_string(),
        "<sip:%61lice@127.0.0.1>".to_string(),
    ];
    for (i, from) in froms.iter().enumerate() {
        let req = request(&caller, "INVITE", &uri, &format!("fraud{i}"), "")
            .replace("<sip:mallory@127.0.0.1>", from);
        send(&caller, p, &req);
        let r = final_response(&caller);
        assert!(r.starts_with("SIP/2.0 407"), "From {from}: {r}");
    }
    let preloaded = format!("Route: <sip:{g};lr>\r\n");
    send(
        &caller,
        p,
        &request(&caller, "INVITE", &uri, "fraud-route", &preloaded),
    );
    assert!(final_response(&caller).starts_with("SIP/2.0 407"));
    // bob's valid credentials on an INVITE From alice: refused.
    let first = request(&caller, "INVITE", &uri, "spoof", "")
        .replace("<sip:mallory@127.0.0.1>", "<sip:alice@127.0.0.1>");
    send(&caller, p, &first);
    let ch = final_response(&caller);
    let chal = headers(&ch, "Proxy-Authenticate")[0].to_string();
    let creds = digest(
        "Proxy-Authorization",
        &chal,
        "bob",
        "builder",
        "INVITE",
        &uri,
    );
    let second = first
        .replace("CSeq: 1 INVITE", "CSeq: 2 INVITE")
        .replace("branch=z9hG4bKspoofINVITE", "branch=z9hG4bKspoof2")
        .replace("Content-Length: 0", &format!("{creds}Content-Length: 0"));
    send(&caller, p, &second);
    let r = final_response(&caller);
    assert!(r.starts_with("SIP/2.0 403"), "{r}");
    assert_eq!(px.proxy.metrics.refusals(Refusal::IdentityMismatch), 1);
    assert!(nothing_queued(&gw));
    // Positive control: alice as herself, with her credentials and a forged PAI.
    let first = request(
        &caller,
        "INVITE",
        &uri,
        "legit",
        "P-Asserted-Identity: <sip:ceo@127.0.0.1>\r\n",
    )
    .replace("<sip:mallory@127.0.0.1>", "<sip:alice@127.0.0.1>");
    send(&caller, p, &first);
    let ch = final_response(&caller);
    let chal = headers(&ch, "Proxy-Authenticate")[0].to_string();
    assert!(chal.contains("SHA-256"), "{chal}");
    let creds = digest(
        "Proxy-Authorization",
        &chal,
        "alice",
        "wonder",
        "INVITE",
        &uri,
    );
    let second = first
        .replace("CSeq: 1 INVITE", "CSeq: 2 INVITE")
        .replace("branch=z9hG4bKlegitINVITE", "branch=z9hG4bKlegit2")
        .replace("Content-Length: 0", &format!("{creds}Content-Length: 0"));
    send(&caller, p, &second);
    let at_gw = recv(&gw);
    assert!(at_gw.starts_with("INVITE sip:+15551234@"), "{at_gw}");
    assert!(headers(&at_gw, "Proxy-Authorization").is_empty());
    assert_eq!(
        headers(&at_gw, "P-Asserted-Identity"),
        ["<sip:alice@127.0.0.1>"]
    );
}

/// A REGISTER of `aor` by `user` with digest, answering the 401 first.
fn register_as(
    s: &UdpSocket,
    p: SocketAddr,
    user: &str,
    pass: &str,
    aor: &str,
    contact: &str,
    call: &str,
) -> String {
    let me = s.local_addr().unwrap();
    let ruri = format!("sip:{p}");
    let msg = |cseq: u32, extra: &str| {
        format!(
            "REGISTER {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK{call}{cseq}\r\n\
             From: <sip:{user}@127.0.0.1>;tag=r{call}\r\nTo: <sip:{aor}@127.0.0.1>\r\n\
             Call-ID: {call}\r\nCSeq: {cseq} REGISTER\r\nContact: {contact}\r\nExpires: 600\r\n\
             Max-Forwards: 70\r\n{extra}Content-Length: 0\r\n\r\n"
        )
    };
    send(s, p, &msg(1, ""));
    let ch = final_response(s);
    assert!(ch.starts_with("SIP/2.0 401"), "{ch}");
    let chal = headers(&ch, "WWW-Authenticate")[0].to_string();
    send(
        s,
        p,
        &msg(
            2,
            &digest("Authorization", &chal, user, pass, "REGISTER", &ruri),
        ),
    );
    final_response(s)
}

#[test]
fn nobody_changes_another_users_registrations() {
    let px = start(&base(
        "[registrar]\nmax_contacts = 2\n[auth]\nregister = true\n\
         [[auth.users]]\nusername = \"alice\"\npassword = \"wonder\"\n\
         [[auth.users]]\nusername = \"bob\"\npassword = \"builder\"\n",
    ));
    let p = udp_of(&px);
    let ua = socket("127.0.0.3");
    // Positive control: alice registers herself.
    let r = register_as(
        &ua,
        p,
        "alice",
        "wonder",
        "alice",
        "<sip:alice@127.0.0.5:5062>",
        "a1",
    );
    assert!(r.starts_with("SIP/2.0 200"), "{r}");
    // bob, authenticated, cannot add, replace or remove alice's bindings.
    let r = register_as(
        &ua,
        p,
        "bob",
        "builder",
        "alice",
        "<sip:evil@127.0.0.6:5062>",
        "b1",
    );
    assert!(r.starts_with("SIP/2.0 403"), "{r}");
    let r = register_as(&ua, p, "bob", "builder", "alice", "*", "b2");
    assert!(r.starts_with("SIP/2.0 403"), "{r}");
    let reg = px.proxy.registrar.as_ref().unwrap();
    let now = Instant::now();
    let kept: Vec<String> = reg
        .lookup("alice", now)
        .into_iter()
        .map(|b| b.uri)
        .collect();
    assert_eq!(kept, ["sip:alice@127.0.0.5:5062"]);
    assert_eq!(px.proxy.metrics.refusals(Refusal::NotOwner), 2);
    // A REGISTER flood of contacts is refused without evicting anyone.
    let many = "<sip:alice@127.0.0.7:1>, <sip:alice@127.0.0.7:2>";
    let r = register_as(&ua, p, "alice", "wonder", "alice", many, "a2");
    assert!(r.starts_with("SIP/2.0 403 Too many contacts"), "{r}");
    assert_eq!(reg.lookup("alice", now).len(), 1);
}

#[test]
fn registrations_for_other_domains_are_not_taken() {
    let px = start(&base("[auth]\nregister = false\n"));
    let p = udp_of(&px);
    let ua = socket("127.0.0.3");
    let me = ua.local_addr().unwrap();
    let msg = |to: &str, call: &str| {
        format!(
            "REGISTER sip:{p} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK{call}\r\n\
             From: <{to}>;tag=r\r\nTo: <{to}>\r\nCall-ID: {call}\r\nCSeq: 1 REGISTER\r\n\
             Contact: <sip:x@127.0.0.5:5062>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        )
    };
    send(&ua, p, &msg("sip:alice@bank.example", "foreign"));
    let r = final_response(&ua);
    assert!(r.starts_with("SIP/2.0 404"), "{r}");
    // Positive control: our own domain.
    send(&ua, p, &msg("sip:alice@127.0.0.1", "own"));
    assert!(final_response(&ua).starts_with("SIP/2.0 200"));
}

/// Spirals and amplification: every Route of ours is removed, Max-Forwards is capped
/// at 70, and forking obeys Max-Breadth.
#[test]
fn spirals_and_amplification_are_bounded() {
    let next = socket("127.0.0.2");
    let n = next.local_addr().unwrap();
    let px = start(&format!(
        "[server]\nlisten = [\"udp:127.0.0.1:0\"]\nnext_hop = \"{n}\"\n[acl]\ntrusted = [\"127.0.0.3\"]\n"
    ));
    let p = udp_of(&px);
    let caller = socket("127.0.0.3");
    let ours = format!("<sip:{p};lr>");
    let routes = format!("Route: {}\r\n", [ours.as_str(); 12].join(", "));
    let req = request(
        &caller,
        "INVITE",
        &format!("sip:bob@{p}"),
        "spiral",
        &routes,
    )
    .replace("Max-Forwards: 70", "Max-Forwards: 255");
    send(&caller, p, &req);
    let got = recv(&next);
    assert!(headers(&got, "Route").is_empty(), "{got}");
    assert_eq!(headers(&got, "Max-Forwards"), ["70"]);
}

#[test]
fn forking_obeys_max_breadth() {
    let px = start(&base("[auth]\nregister = false\n"));
    let p = udp_of(&px);
    let ua = socket("127.0.0.3");
    let me = ua.local_addr().unwrap();
    let phones: Vec<UdpSocket> = (0..4).map(|_| socket("127.0.0.2")).collect();
    let contacts: Vec<String> = phones
        .iter()
        .map(|s| format!("<sip:bob@{}>", s.local_addr().unwrap()))
        .collect();
    let reg = format!(
        "REGISTER sip:{p} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKregb\r\n\
         From: <sip:bob@127.0.0.1>;tag=r\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: regb\r\n\
         CSeq: 1 REGISTER\r\nContact: {}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        contacts.join(", ")
    );
    send(&ua, p, &reg);
    assert!(final_response(&ua).starts_with("SIP/2.0 200"));
    // No breadth left: 440.
    let inv = request(
        &ua,
        "INVITE",
        &format!("sip:bob@{p}"),
        "mb0",
        "Max-Breadth: 0\r\n",
    );
    send(&ua, p, &inv);
    let r = final_response(&ua);
    assert!(r.starts_with("SIP/2.0 440"), "{r}");
    // Max-Breadth 2: two branches of breadth 1 (positive control: forking works).
    let inv = request(
        &ua,
        "INVITE",
        &format!("sip:bob@{p}"),
        "mb2",
        "Max-Breadth: 2\r\n",
    );
    send(&ua, p, &inv);
    // The first two contacts ring, each with its share of the breadth; not the others.
    for ph in &phones[..2] {
        let got = recv(ph);
        assert!(got.starts_with("INVITE "), "{got}");
        assert_eq!(headers(&got, "Max-Breadth"), ["1"]);
    }
    let m = &px.proxy.metrics;
    wait_for("branches", 2, || m.branches.load(Ordering::Relaxed));
    assert!(phones[2..].iter().all(nothing_queued));
}

/// Runs `svwar` (SIPVicious) against `target`; returns its output.
fn svwar(target: SocketAddr, method: &str) -> String {
    let out = std::process::Command::new("svwar")
        .args([
            "--force",
            "-b",
            "127.0.0.3",
            "--maximumtime=10",
            &format!("--domain={target}"),
            "-e100-160",
            "-m",
            method,
            "-p",
            &target.port().to_string(),
            &target.ip().to_string(),
        ])
        .output()
        .expect("svwar is installed (./scripts/test.sh installs sipvicious)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "svwar failed: {text}");
    text
}

/// The extensions in svwar's result table.
fn found(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix('|'))
        .filter_map(|l| l.split('|').next())
        .map(|e| e.trim().to_string())
        .filter(|e| e.chars().all(|c| c.is_ascii_digit()) && !e.is_empty())
        .collect()
}

/// `svwar` finds no extension: known and unknown users get the same challenge.
#[test]
fn svwar_finds_no_extension() {
    // Positive control: a registrar that leaks (401 for extension 150, 404 for the
    // rest) is enumerated by the same scan.
    let leaky = common::responder::UdpResponder::start(|req, _| {
        if !req.starts_with("REGISTER") {
            return None;
        }
        let status = if req.contains("sip:150@") {
            "401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"x\", nonce=\"n\""
        } else {
            "404 Not Found"
        };
        Some(reply(req, status, ""))
    });
    let leak = svwar(leaky.addr, "REGISTER");
    assert_eq!(found(&leak), ["150"], "{leak}");
    let px = start(&base(
        "[auth]\nregister = true\n[[auth.users]]\nusername = \"150\"\npassword = \"pw\"\n",
    ));
    let p = udp_of(&px);
    let text = svwar(p, "REGISTER");
    assert!(found(&text).is_empty(), "{text}");
    assert!(text.contains("found nothing"), "{text}");
}

/// A flood of new requests from one source is cut to its rate (Kamailio's pike) before
/// it creates transactions; another source, and the flooder's in-dialog requests, are
/// served meanwhile.
#[test]
fn a_request_flood_from_one_source_is_rate_limited() {
    let px = start("[server]\nlisten = [\"udp:127.0.0.1:0\"]\nrate_limit = 1\nrate_burst = 5\n");
    let p = udp_of(&px);
    let flooder = socket("127.0.0.3");
    let mut statuses = Vec::new();
    for i in 0..20 {
        let uri = format!("sip:{p}");
        send(
            &flooder,
            p,
            &request(&flooder, "OPTIONS", &uri, &format!("flood{i}"), ""),
        );
        let r = final_response(&flooder);
        statuses.push(r[8..11].to_string());
    }
    let ok = statuses.iter().filter(|s| *s == "200").count();
    let refused = statuses.iter().filter(|s| *s == "503").count();
    // The burst, and at most a token or two more that refilled during the run.
    assert!((5..=8).contains(&ok), "{statuses:?}");
    assert_eq!(ok + refused, 20, "{statuses:?}");
    assert_eq!(px.endpoint.counters().admission_503, refused as u64);
    // Positive controls: another source is served, and so is the flooder's in-dialog
    // request (404 from the routing policy, not 503 from the limit).
    let other = socket("127.0.0.4");
    send(
        &other,
        p,
        &request(&other, "OPTIONS", &format!("sip:{p}"), "calm", ""),
    );
    assert!(final_response(&other).starts_with("SIP/2.0 200"));
    let bye = request(&flooder, "BYE", &format!("sip:x@{p}"), "dlg", "").replace(
        "To: <sip:victim@127.0.0.1>",
        "To: <sip:victim@127.0.0.1>;tag=t",
    );
    send(&flooder, p, &bye);
    assert!(final_response(&flooder).starts_with("SIP/2.0 404"));
}

/// An `;alias` in a TCP Via (RFC 5923) claiming someone else's address does not make
/// the proxy send that address's requests down the claimant's connection; a request
/// for the claimant's real address does reuse its connection (positive control).
#[test]
fn a_tcp_alias_claim_does_not_capture_anothers_requests() {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    let px = start(&base("[acl]\ntrusted = [\"127.0.0.4\"]\n"));
    let (p, t) = (udp_of(&px), tcp_of(&px));
    let victim = TcpListener::bind("127.0.0.2:0").unwrap();
    let v = victim.local_addr().unwrap();
    // The attacker connects and claims the victim's address (127.0.0.2).
    let mut attacker = TcpStream::connect_timeout(&t, WAIT).unwrap();
    let me = attacker.local_addr().unwrap();
    attacker.set_read_timeout(Some(WAIT)).unwrap();
    let claim = format!(
        "OPTIONS sip:{t};transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP {v};alias;branch=z9hG4bKclaim\r\n\
         From: <sip:m@x>;tag=1\r\nTo: <sip:{t}>\r\nCall-ID: claim\r\nCSeq: 1 OPTIONS\r\n\
         Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    attacker.write_all(claim.as_bytes()).unwrap();
    let mut buf = vec![0u8; 4096];
    let n = attacker.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("SIP/2.0 200"));
    // A trusted peer's request for the claimed address: it must reach the victim.
    let peer = socket("127.0.0.4");
    let uri = format!("sip:victim@{v};transport=tcp");
    send(&peer, p, &request(&peer, "OPTIONS", &uri, "to-victim", ""));
    victim.set_nonblocking(false).unwrap();
    let (mut conn, _) = victim.accept().unwrap();
    conn.set_read_timeout(Some(WAIT)).unwrap();
    let mut head = [0u8; 8];
    conn.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"OPTIONS ");
    // Positive control: a request for the attacker's own address uses its connection.
    let own = format!("sip:m@{me};transport=tcp");
    send(
        &peer,
        p,
        &request(&peer, "OPTIONS", &own, "to-claimant", ""),
    );
    let n = attacker.read(&mut buf).unwrap();
    let got = String::from_utf8_lossy(&buf[..n]);
    assert!(got.starts_with(&format!("OPTIONS {own} SIP/2.0")), "{got}");
}
