//! A message sink that panics loses that one message: the connection and the worker go
//! on, and the panic is counted (`callback_panics`).

#![allow(clippy::disallowed_methods, clippy::unwrap_used)]

mod common;

use std::net::TcpStream;
use std::sync::Arc;

use common::*;
use crossbeam_channel::unbounded;
use sipcore::transport::{MessageSink, Received};
use sipcore_tcp::TcpTransport;

/// Panics on a message whose Call-ID starts with `boom`, passes the others on.
struct Fragile(crossbeam_channel::Sender<Received>);
impl MessageSink for Fragile {
    fn on_received(&self, r: Received) {
        let id = call_id_of(&r.data).unwrap_or_default();
        assert!(!id.starts_with("boom"), "sink bug");
        let _ = self.0.send(r);
    }
}

#[test]
fn a_panicking_sink_loses_one_message_and_the_connection_goes_on() {
    let (tx, rx) = unbounded();
    let (etx, _events) = unbounded();
    let server =
        TcpTransport::start(config(), Arc::new(Fragile(tx)), Arc::new(EventLog(etx))).unwrap();
    let mut c = TcpStream::connect(sipcore::transport::Transport::local_addr(&server)).unwrap();
    for round in 0..2u64 {
        write(&mut c, &request(&format!("boom{round}"), ""));
        write(&mut c, &request(&format!("fine{round}"), ""));
        // In order on one connection: the next message delivered is the fine one.
        let got = rx.recv_timeout(WAIT).unwrap();
        assert_eq!(call_id_of(&got.data).unwrap(), format!("fine{round}"));
        let stats = server.stats();
        assert_eq!(stats.callback_panics, round + 1);
        assert_eq!(stats.messages_received, 2 * (round + 1));
    }
    assert_eq!(server.stats().accepted, 1);
    server.shutdown();
}
