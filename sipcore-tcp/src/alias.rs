//! RFC 5923 connection aliases: an accepted connection indexed under the address its
//! peer advertises in the top Via (`;alias`), so requests to that address reuse it.
//!
//! An alias sends every request for the claimed address down the claimant's connection,
//! so it is honoured only when the claim is proven (RFC 5923 §5 asks TLS with a
//! certificate for the advertised host): [`TcpConfig::use_alias`] must be on *and* the
//! connection's stream layer must vouch that the peer's certificate was verified for the
//! claimed address ([`StreamLayer::peer_verified_for`]). Over plain TCP it never is.
//!
//! [`TcpConfig::use_alias`]: crate::TcpConfig::use_alias
//! [`StreamLayer::peer_verified_for`]: crate::StreamLayer::peer_verified_for

use std::net::SocketAddr;
use std::sync::Arc;

use crate::conn::{Conn, Phase};
use crate::shared::Shared;
use crate::stats::Counters;

/// Most RFC 5923 aliases one connection is indexed under.
const MAX_ALIASES: usize = 4;

/// Whether `conn`'s layer vouches that its peer owns `alias` (never without a layer).
fn proven(conn: &Conn, alias: SocketAddr) -> bool {
    conn.layer
        .as_deref()
        .is_some_and(|slot| slot.lock().session.peer_verified_for(alias.ip()))
}

impl Shared {
    /// Indexes `conn` under `alias` too (RFC 5923), when the peer proved it owns the
    /// address and no other connection is indexed there. Refusals are counted
    /// (`aliases_refused`).
    pub(crate) fn add_alias(&self, conn: &Arc<Conn>, alias: SocketAddr) {
        if alias == conn.peer {
            return;
        }
        if !proven(conn, alias) {
            Counters::inc(&self.stats.aliases_refused);
            return;
        }
        {
            let w = conn.write.lock();
            if w.phase == Phase::Closed
                || w.aliases.len() >= MAX_ALIASES
                || w.aliases.contains(&alias)
            {
                return;
            }
        }
        if !self.table.insert_if_absent(alias, conn) {
            return;
        }
        let mut w = conn.write.lock();
        if w.phase == Phase::Closed || w.aliases.len() >= MAX_ALIASES {
            drop(w);
            self.table.remove(&alias, conn);
            return;
        }
        w.aliases.push(alias);
        Counters::inc(&self.stats.aliases);
    }
}
