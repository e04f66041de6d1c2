//! Forwarding by edits (RFC 3261 §16.6): the received request plus a new Via with a
//! unique branch, Max-Forwards decremented, our Route values removed, Record-Route
//! added for dialog-creating requests, maybe a new Request-URI. Responses go back up
//! with our Via removed (§16.7 step 3).

use bytes::Bytes;
use sipcore::edit::{EditError, Edits};
use sipcore::endpoint::Context;
use sipcore::message::{HeaderId, Message, NewVia, Request, Response};
use sipcore::transaction::{stateless, TransactionError, TransactionId};
use sipcore::transport::{Target, TransportKind};

use crate::local::Local;
use crate::target::RouteInfo;

/// How to forward one branch.
#[derive(Debug, Clone, Copy, Default)]
pub struct ForwardSpec<'a> {
    /// Replace the Request-URI (a registered contact, a gateway).
    pub request_uri: Option<&'a str>,
    /// Add Record-Route (dialog-creating request outside a dialog).
    pub record_route: bool,
    /// Route processing of the received request.
    pub routes: Option<&'a RouteInfo>,
    /// The loop hash to carry in the branch.
    pub loop_hash: u32,
    /// The transport the request came in on (a change means double Record-Route).
    pub incoming: Option<TransportKind>,
    /// Identity headers, credentials, Max-Breadth.
    pub edits: Option<&'a crate::calls::BranchEdits>,
}

/// Max-Forwards above this is lowered to it (RFC 3261 §16.6 step 3 recommends 70: a
/// larger value only lets a request travel, and loop, longer).
pub const MAX_FORWARDS_CAP: u8 = 70;

/// Why a forward failed (answer the request with [`status`](Self::status)).
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// The request could not be edited (Max-Forwards 0 is 483, anything else 400).
    #[error("cannot edit the request: {0}")]
    Edit(#[from] EditError),
    /// The transaction layer refused the branch.
    #[error("{0}")]
    Transaction(#[from] TransactionError),
    /// No interface for the transport.
    #[error("no interface for {0}")]
    NoInterface(TransportKind),
}

impl ForwardError {
    /// The status to answer upstream.
    pub fn status(&self) -> sipcore::message::StatusCode {
        use sipcore::message::StatusCode;
        match self {
            ForwardError::Edit(EditError::TooManyHops) => StatusCode::TOO_MANY_HOPS,
            ForwardError::Edit(_) => StatusCode::BAD_REQUEST,
            ForwardError::Transaction(_) | ForwardError::NoInterface(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }
}

/// The edited request bytes for `target`.
pub fn edit_request(
    ctx: &Context<'_>,
    local: &Local,
    req: &Request,
    target: Target,
    spec: &ForwardSpec<'_>,
) -> Result<Bytes, ForwardError> {
    let out_if = local
        .interface(target.transport)
        .ok_or(ForwardError::NoInterface(target.transport))?;
    let branch = format!("{}-{:08x}", ctx.new_branch(), spec.loop_hash);
    let via =
        NewVia::new(target.transport.as_str(), &out_if.host, &branch).port(out_if.addr.port());
    let via = if target.transport == TransportKind::Udp {
        via.rport()
    } else {
        via
    };
    let mut strict_route = String::new();
    let mut restored_uri: Option<&str> = None;
    let breadth = spec
        .edits
        .and_then(|x| x.max_breadth)
        .map(|b| b.to_string());
    let mut e = Edits::for_request(req);
    e.prepend_via(via)?
        .decrement_max_forwards_to(MAX_FORWARDS_CAP)?;
    if let Some(r) = spec.routes {
        for _ in 0..r.remove_top {
            e.remove_top_route()?;
        }
        if let Some(fix) = &r.strict_from {
            e.delete(fix.delete)?;
            restored_uri = Some(fix.uri.as_str());
        }
        if let Some(next) = r.next.as_ref().filter(|n| n.strict) {
            // §16.6 step 6: the next hop is a strict router: it gets the request with
            // its URI as Request-URI; the Request-URI goes to the end of the Route set.
            let current = restored_uri
                .map(str::to_string)
                .unwrap_or_else(|| String::from_utf8_lossy(req.uri_bytes()).into_owned());
            e.remove_top_route()?;
            strict_route = format!("<{current}>");
            restored_uri = Some(next.uri.as_str());
        }
    }
    if !strict_route.is_empty() {
        e.add_header("Route", strict_route.as_str())?;
    }
    if let Some(uri) = spec.request_uri.or(restored_uri) {
        e.set_request_uri(uri)?;
    }
    if spec.record_route {
        e.insert_record_route(out_if.record_route.as_str())?;
        if let Some(in_kind) = spec.incoming.filter(|k| *k != target.transport) {
            if let Some(in_if) = local.interface(in_kind) {
                e.insert_record_route(in_if.record_route.as_str())?;
            }
        }
    }
    if let Some(x) = spec.edits {
        if x.strip_proxy_auth {
            e.remove_header(HeaderId::ProxyAuthorization)?;
        }
        if x.strip_identity || x.assert_identity.is_some() {
            e.remove_header(HeaderId::PAssertedIdentity)?;
            e.remove_header_named("P-Preferred-Identity")?;
        }
        if let Some(id) = &x.assert_identity {
            e.add_header("P-Asserted-Identity", id.as_str())?;
        }
        if let Some(b) = &breadth {
            e.replace_header_named("Max-Breadth", b.as_str())?;
        }
    }
    if target.transport.is_stream() {
        e.ensure_content_length()?;
    }
    Ok(e.apply()?)
}

/// Forwards `req` to `target` in a new client transaction.
pub fn forward(
    ctx: &mut Context<'_>,
    local: &Local,
    req: &Request,
    target: Target,
    spec: &ForwardSpec<'_>,
) -> Result<TransactionId, ForwardError> {
    let bytes = edit_request(ctx, local, req, target, spec)?;
    let out = match Message::parse(bytes).map_err(TransactionError::from)? {
        Message::Request(r) => r,
        Message::Response(_) => {
            return Err(TransactionError::InvalidRequest("edited request is a response").into())
        }
    };
    Ok(ctx.send_request(out, target)?)
}

/// The response with its top Via (ours) removed, ready to relay upstream.
///
/// §16.7 step 3: a response with no Via left after ours was meant for this proxy and
/// is not forwarded (an error here).
pub fn strip_top_via(resp: &Response) -> Result<Response, TransactionError> {
    strip_top_via_adding(resp, &[])
}

/// [`strip_top_via`], adding the header lines `extra` (name, value) at the end of the
/// headers: the challenges of the other branches merged into a 401 or 407 (§16.7
/// step 7). A value that could not be written as a header line (a bare CR or LF) is
/// left out.
pub fn strip_top_via_adding(
    resp: &Response,
    extra: &[(&str, Bytes)],
) -> Result<Response, TransactionError> {
    if resp.vias().nth(1).is_none() {
        return Err(TransactionError::InvalidRequest("no Via left after ours"));
    }
    let mut e = Edits::for_response(resp);
    e.remove_top_via()
        .map_err(|_| TransactionError::InvalidRequest("response without a Via of ours"))?;
    for (name, value) in extra {
        // A refused line adds nothing: the edit list is unchanged by the refusal.
        let _ = e.add_header(*name, &value[..]);
    }
    let bytes = e
        .apply()
        .map_err(|_| TransactionError::InvalidRequest("response edits overlap"))?;
    stateless::parse_response(bytes)
}
