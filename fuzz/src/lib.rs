//! Helpers shared by the fuzz targets.

use sipcore::message::{HeaderId, Message, NameAddr};

/// Runs every typed view on every header it applies to, and reads every span: none of
/// it may panic, whatever the input.
pub fn poke_views(m: &Message) {
    for v in m.vias().flatten() {
        let _ = (v.branch(), v.received(), v.rport(), v.maddr(), v.ttl());
        let _ = (v.alias(), v.has_magic_cookie(), v.params.into_iter().count());
    }
    let _ = m.top_via();
    if let Ok(c) = m.cseq() {
        let _ = c.method.as_str();
    }
    for n in [m.from_(), m.to()].into_iter().flatten() {
        poke_name_addr(&n);
    }
    let _ = m.call_id();
    let _ = m.max_forwards();
    let _ = m.content_length();
    for id in [
        HeaderId::Contact,
        HeaderId::Route,
        HeaderId::RecordRoute,
        HeaderId::Path,
        HeaderId::ServiceRoute,
    ] {
        for (_, v) in m.values(id) {
            if let Ok(n) = NameAddr::parse(v) {
                poke_name_addr(&n);
            }
        }
    }
    for h in m.headers() {
        let _ = (m.slice(h.name()), m.slice(h.value()), m.slice(h.line()), m.str(h.value()));
        let _ = m.header_by_name(m.str(h.name()));
    }
    if let Some(r) = m.as_request() {
        let _ = (r.method().as_str(), r.uri());
    }
    if let Some(r) = m.as_response() {
        let _ = (r.status().canonical_reason(), r.reason());
    }
    let _ = (m.body(), m.body_bytes(), m.as_bytes(), m.bytes(), m.start_line());
}

/// Reads everything a name-addr view offers.
pub fn poke_name_addr(n: &NameAddr<'_>) {
    let _ = (n.display_name(), n.display_name_raw(), n.uri_bytes(), n.uri());
    let _ = (n.tag(), n.expires(), n.q(), n.params.into_iter().count());
}
