//! Listeners and accepted connections: the accept loop (bounded per turn, retried when
//! out of descriptors) and the admission of a new connection under the limits.

use std::io;
use std::sync::Arc;

use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Token};

use super::{Supervisor, ACCEPTS_PER_TURN, LISTENER_BASE, MAX_LISTENERS};
use crate::conn::{Conn, Phase};
use crate::layer::LayerSlot;
use crate::limits::{Direction, Refusal};
use crate::stats::Counters;

impl Supervisor {
    pub(super) fn add_listener(&mut self, mut listener: TcpListener) {
        let i = self.listeners.len();
        if i >= MAX_LISTENERS {
            return;
        }
        if self
            .poll
            .registry()
            .register(&mut listener, Token(LISTENER_BASE - i), Interest::READABLE)
            .is_ok()
        {
            self.listeners.push(listener);
            self.accept(i);
        }
    }

    pub(super) fn accept(&mut self, i: usize) {
        for _ in 0..ACCEPTS_PER_TURN {
            let Some(listener) = self.listeners.get(i) else {
                return;
            };
            match listener.accept() {
                Ok((stream, peer)) => self.accepted(stream, peer),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e)
                    if e.kind() == io::ErrorKind::Interrupted
                        || e.kind() == io::ErrorKind::ConnectionAborted => {}
                Err(_) => {
                    // Out of file descriptors or buffers: the backlog keeps the rest;
                    // retry soon rather than wait for an edge that may never come.
                    self.accept_retry = true;
                    return;
                }
            }
        }
        // Budget used up: the rest of the backlog waits one loop turn (edge-triggered,
        // so no new event would come for it).
        self.accept_more = true;
    }

    fn accepted(&mut self, stream: TcpStream, peer: std::net::SocketAddr) {
        let shared = &self.shared;
        match shared.reserve_slot(Direction::Inbound, peer.ip()) {
            Ok(()) => {}
            Err(why) => {
                Counters::inc(match why {
                    Refusal::Limit => &shared.stats.accept_refused,
                    Refusal::PerIp => &shared.stats.accept_refused_per_ip,
                });
                return; // dropping the stream closes it
            }
        }
        Counters::inc(&shared.stats.accepted);
        if shared.config.nodelay {
            let _ = stream.set_nodelay(true);
        }
        if let Some(n) = shared.config.send_buffer {
            let _ = socket2::SockRef::from(&stream).set_send_buffer_size(n);
        }
        if let Some(n) = shared.config.recv_buffer {
            let _ = socket2::SockRef::from(&stream).set_recv_buffer_size(n);
        }
        let local = stream
            .local_addr()
            .unwrap_or_else(|_| std::net::SocketAddr::new(peer.ip(), 0));
        let slot = match &shared.layers {
            None => None,
            Some(f) => match f.accept(peer, local) {
                Ok(session) => Some(LayerSlot::new(session)),
                Err(_) => {
                    // Our own configuration failed (no certificate): nothing to report
                    // to; the peer sees the connection close.
                    Counters::inc(&shared.stats.handshake_failures);
                    shared.release_slot(Direction::Inbound, peer.ip());
                    return;
                }
            },
        };
        let conn = Conn::new(stream, peer, local, false, Phase::Open, shared.now());
        let conn = Arc::new(match slot {
            Some(slot) => conn.with_layer(slot, None),
            None => conn,
        });
        shared.table.insert(peer, conn.clone());
        let now = shared.now();
        self.add(conn, now);
    }
}
