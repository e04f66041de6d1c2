//! Dialogs (RFC 3261 §12), sans-IO: the state a user agent keeps between the two ends
//! of an INVITE (or SUBSCRIBE/REFER) dialog, and what it needs to send the next request
//! in it.
//!
//! What it is: [`Dialog`] is created from the request and response that establish it
//! (UAC: a 2xx, or a 1xx with a To tag for an early dialog; UAS: the request and the
//! local tag it answers with), keeps the route set, the remote target, both CSeq
//! numbers and the state, checks and absorbs the requests and responses that arrive in
//! it (CSeq order §12.2.2, target refresh by re-INVITE and UPDATE, 481/408 ending it,
//! BYE), and builds the next request ([`Dialog::request`], with the route set applied
//! for loose and strict next hops, §12.2.1.1) and the ACK for a 2xx ([`Dialog::ack`]).
//! [`DialogSet`] holds the early and confirmed dialogs that one forked INVITE creates
//! (one per To tag, RFC 3261 §12.1.2 and §13.2.2.4).
//!
//! What it is not: no sockets, no clock, no transactions. The application (or a
//! driver) sends what it builds in a client transaction, feeds what it receives, and
//! decides on session timers and media.
//!
//! # Example
//!
//! A UAC dialog from an INVITE and its 200, then the BYE:
//!
//! ```
//! use bytes::Bytes;
//! use sipcore::dialog::{Dialog, State};
//! use sipcore::message::{Message, Method};
//!
//! let invite = "INVITE sip:bob@biloxi.example SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
//!     From: <sip:alice@atlanta.example>;tag=a1\r\nTo: <sip:bob@biloxi.example>\r\nCall-ID: c1\r\n\
//!     CSeq: 1 INVITE\r\nContact: <sip:alice@192.0.2.1>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
//! let ok = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
//!     Record-Route: <sip:p2.example;lr>, <sip:p1.example;lr>\r\n\
//!     From: <sip:alice@atlanta.example>;tag=a1\r\nTo: <sip:bob@biloxi.example>;tag=b1\r\nCall-ID: c1\r\n\
//!     CSeq: 1 INVITE\r\nContact: <sip:bob@192.0.2.4>\r\nContent-Length: 0\r\n\r\n";
//! let Message::Request(invite) = Message::parse(Bytes::from(invite))? else { unreachable!() };
//! let Message::Response(ok) = Message::parse(Bytes::from(ok))? else { unreachable!() };
//! let mut d = Dialog::uac(&invite, &ok)?;
//! assert_eq!(d.state(), State::Confirmed);
//! // The BYE goes to the remote target along the reversed Record-Route.
//! let bye = d.request(Method::Bye, "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK2")?;
//! let text = std::str::from_utf8(&bye).unwrap();
//! assert!(text.starts_with("BYE sip:bob@192.0.2.4 SIP/2.0\r\n"));
//! assert!(text.contains("Route: <sip:p1.example;lr>\r\nRoute: <sip:p2.example;lr>\r\n"));
//! assert!(text.contains("CSeq: 2 BYE\r\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod set;
#[cfg(test)]
mod tests;

pub use set::DialogSet;

use bytes::Bytes;

use crate::message::{Contacts, HeaderId, Method, Request, RequestBuilder, Response};
use crate::syntax::ParseError;
use crate::uri::Uri;

/// What identifies a dialog at one end (RFC 3261 §12): Call-ID, local tag, remote tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogId {
    /// The Call-ID.
    pub call_id: String,
    /// This end's tag.
    pub local_tag: String,
    /// The other end's tag.
    pub remote_tag: String,
}

/// Where a dialog is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Created by a provisional response with a To tag; may still fail.
    Early,
    /// Created or confirmed by a 2xx.
    Confirmed,
    /// Ended (BYE, a final error to the INVITE of an early dialog, 481, 408).
    Terminated,
}

/// Which end of the dialog this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// It sent the request that created the dialog.
    Uac,
    /// It received it.
    Uas,
}

/// Why a message does not make or fit a dialog.
#[derive(Debug, thiserror::Error)]
pub enum DialogError {
    /// A header the dialog needs is missing or malformed.
    #[error("{header}: {why}")]
    Header {
        /// Which header.
        header: &'static str,
        /// What is wrong.
        why: &'static str,
    },
    /// A header did not parse.
    #[error("malformed message")]
    Parse(#[from] ParseError),
    /// The message belongs to another dialog (Call-ID or tags differ).
    #[error("not in this dialog")]
    NotInDialog,
    /// A request's CSeq is lower than one already seen (RFC 3261 §12.2.2: answer 500).
    #[error("CSeq {got} is lower than {last}, already seen")]
    OutOfOrder {
        /// The request's CSeq.
        got: u32,
        /// The highest seen.
        last: u32,
    },
    /// The dialog has ended.
    #[error("the dialog has ended")]
    Terminated,
    /// This method is not sent with [`Dialog::request`] (ACK: [`Dialog::ack`]; CANCEL
    /// belongs to the transaction, not the dialog).
    #[error("{0} is not sent this way")]
    Method(&'static str),
}

/// One dialog's state (RFC 3261 §12.1).
#[derive(Debug, Clone)]
pub struct Dialog {
    id: DialogId,
    role: Role,
    state: State,
    /// The local URI with its tag, as this end writes From (UAC) or To (UAS).
    local: String,
    /// The remote URI with its tag.
    remote: String,
    local_seq: u32,
    remote_seq: Option<u32>,
    remote_target: String,
    /// Route set, as this end sends it (first value first).
    route_set: Vec<String>,
    /// Our Contact, written in the requests it builds (a target refresh's new value).
    local_contact: Option<String>,
}

fn need<'a>(v: Option<&'a [u8]>, header: &'static str) -> Result<&'a str, DialogError> {
    let v = v.ok_or(DialogError::Header {
        header,
        why: "missing",
    })?;
    std::str::from_utf8(v).map_err(|_| DialogError::Header {
        header,
        why: "not UTF-8",
    })
}

/// The first Contact URI of a message (the remote target).
fn contact_uri(contacts: Result<Contacts<'_>, ParseError>) -> Result<String, DialogError> {
    let missing = DialogError::Header {
        header: "Contact",
        why: "needed to reach the other end",
    };
    match contacts? {
        Contacts::List(mut l) => {
            let c = l.next().ok_or(missing)??;
            Ok(std::str::from_utf8(c.uri_bytes())
                .map_err(|_| DialogError::Header {
                    header: "Contact",
                    why: "not UTF-8",
                })?
                .to_string())
        }
        Contacts::Wildcard => Err(missing),
    }
}

/// Record-Route values as `<uri;params>` strings, in message order.
fn record_route(msg: &crate::message::MessageBuf) -> Result<Vec<String>, DialogError> {
    let mut out = Vec::new();
    for (_, v) in msg.values(HeaderId::RecordRoute) {
        // Each value is checked as a name-addr; the text is kept as written.
        crate::message::parse_route(v)?;
        let text = std::str::from_utf8(v).map_err(|_| DialogError::Header {
            header: "Record-Route",
            why: "not UTF-8",
        })?;
        out.push(text.trim().to_string());
        if out.len() > 64 {
            return Err(DialogError::Header {
                header: "Record-Route",
                why: "more than 64 values",
            });
        }
    }
    Ok(out)
}

impl Dialog {
    /// The UAC's dialog from its `request` and a `response` with a To tag (1xx: early;
    /// 2xx: confirmed). RFC 3261 §12.1.2: the route set is the response's Record-Route
    /// reversed, the remote target its Contact.
    pub fn uac(request: &Request, response: &Response) -> Result<Dialog, DialogError> {
        let status = response.status();
        if !(status.is_provisional() || status.is_success()) || status.as_u16() == 100 {
            return Err(DialogError::Header {
                header: "status",
                why: "only a 101-199 or 2xx response makes a dialog",
            });
        }
        let call_id = response.call_id()?.to_string();
        if request.call_id()? != call_id {
            return Err(DialogError::NotInDialog);
        }
        let local_tag = request.from_()?.tag().ok_or(DialogError::Header {
            header: "From",
            why: "no tag",
        })?;
        let remote_tag = response.to()?.tag().ok_or(DialogError::Header {
            header: "To",
            why: "no tag",
        })?;
        let mut route_set = record_route(response)?;
        route_set.reverse();
        Ok(Dialog {
            id: DialogId {
                call_id,
                local_tag: local_tag.to_string(),
                remote_tag: remote_tag.to_string(),
            },
            role: Role::Uac,
            state: if status.is_success() {
                State::Confirmed
            } else {
                State::Early
            },
            local: need(request.header(HeaderId::From), "From")?.to_string(),
            remote: need(response.header(HeaderId::To), "To")?.to_string(),
            local_seq: request.cseq()?.seq,
            remote_seq: None,
            remote_target: contact_uri(response.contacts())?,
            route_set,
            local_contact: request
                .contacts()
                .ok()
                .and_then(|c| contact_uri(Ok(c)).ok()),
        })
    }

    /// The UAS's dialog for `request`, answered with To tag `local_tag` (RFC 3261
    /// §12.1.1: the route set is the request's Record-Route in order, the remote target
    /// its Contact). Early until [`confirm`](Self::confirm) (the 2xx is sent).
    pub fn uas(
        request: &Request,
        local_tag: &str,
        local_contact: Option<&str>,
    ) -> Result<Dialog, DialogError> {
        let from = request.from_()?;
        let remote_tag = from.tag().ok_or(DialogError::Header {
            header: "From",
            why: "no tag",
        })?;
        let to = need(request.header(HeaderId::To), "To")?;
        Ok(Dialog {
            id: DialogId {
                call_id: request.call_id()?.to_string(),
                local_tag: local_tag.to_string(),
                remote_tag: remote_tag.to_string(),
            },
            role: Role::Uas,
            state: State::Early,
            local: format!("{to};tag={local_tag}"),
            remote: need(request.header(HeaderId::From), "From")?.to_string(),
            local_seq: 0,
            remote_seq: Some(request.cseq()?.seq),
            remote_target: contact_uri(request.contacts())?,
            route_set: record_route(request)?,
            local_contact: local_contact.map(str::to_string),
        })
    }

    /// The dialog's identifier.
    pub fn id(&self) -> &DialogId {
        &self.id
    }

    /// UAC or UAS.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Early, confirmed or ended.
    pub fn state(&self) -> State {
        self.state
    }

    /// Where requests in the dialog go (the other end's Contact).
    pub fn remote_target(&self) -> &str {
        &self.remote_target
    }

    /// The route set, first hop first.
    pub fn route_set(&self) -> &[String] {
        &self.route_set
    }

    /// The last CSeq this end used.
    pub fn local_seq(&self) -> u32 {
        self.local_seq
    }

    /// The highest CSeq received from the other end.
    pub fn remote_seq(&self) -> Option<u32> {
        self.remote_seq
    }

    /// An early dialog confirmed (UAS: its 2xx was sent; UAC: a 2xx on this dialog).
    pub fn confirm(&mut self) {
        if self.state == State::Early {
            self.state = State::Confirmed;
        }
    }

    /// Ends the dialog.
    pub fn terminate(&mut self) {
        self.state = State::Terminated;
    }

    /// Whether a received request belongs to this dialog (Call-ID, From tag = remote
    /// tag, To tag = local tag).
    pub fn matches_request(&self, req: &Request) -> bool {
        req.call_id().is_ok_and(|c| c == self.id.call_id)
            && req.from_().ok().and_then(|f| f.tag()) == Some(self.id.remote_tag.as_str())
            && req.to().ok().and_then(|t| t.tag()) == Some(self.id.local_tag.as_str())
    }

    /// A request received in the dialog (RFC 3261 §12.2.2): its CSeq must not go back
    /// ([`DialogError::OutOfOrder`]: answer 500); a re-INVITE or UPDATE with a Contact
    /// refreshes the remote target (the caller applies it once it accepts the request,
    /// by calling this when it answers 2xx); a BYE ends the dialog.
    pub fn on_request(&mut self, req: &Request) -> Result<(), DialogError> {
        if self.state == State::Terminated {
            return Err(DialogError::Terminated);
        }
        if !self.matches_request(req) {
            return Err(DialogError::NotInDialog);
        }
        let seq = req.cseq()?.seq;
        let method = req.method();
        if method != Method::Ack && method != Method::Cancel {
            if let Some(last) = self.remote_seq {
                if seq < last {
                    return Err(DialogError::OutOfOrder { got: seq, last });
                }
            }
            self.remote_seq = Some(seq);
        }
        match method {
            Method::Bye => self.state = State::Terminated,
            Method::Invite | Method::Update => {
                if let Ok(target) = contact_uri(req.contacts()) {
                    self.remote_target = target;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// A response to a request this end sent in the dialog: a 2xx to a re-INVITE or
    /// UPDATE refreshes the remote target; 481 and 408 end the dialog (§12.2.1.2); a
    /// 2xx confirms an early dialog.
    pub fn on_response(&mut self, resp: &Response) -> Result<(), DialogError> {
        if self.state == State::Terminated {
            return Err(DialogError::Terminated);
        }
        let status = resp.status().as_u16();
        let method = resp.cseq()?.method;
        if status == 481 || status == 408 {
            self.state = State::Terminated;
            return Ok(());
        }
        if (200..300).contains(&status) {
            if method == Method::Invite {
                self.confirm();
            }
            if matches!(method, Method::Invite | Method::Update) {
                if let Ok(target) = contact_uri(resp.contacts()) {
                    self.remote_target = target;
                }
            }
        }
        Ok(())
    }

    /// The Request-URI and Route values for the next request (§12.2.1.1): loose next
    /// hop: the remote target, the route set as it is; strict next hop (no `lr`): the
    /// first route as Request-URI, the rest, then the remote target, as Route.
    pub fn next_hop(&self) -> (String, Vec<String>) {
        let Some(first) = self.route_set.first() else {
            return (self.remote_target.clone(), Vec::new());
        };
        let inner = first
            .trim()
            .trim_start_matches('<')
            .split('>')
            .next()
            .unwrap_or_default();
        let loose = matches!(Uri::parse(inner.as_bytes()), Ok(Uri::Sip(s)) if s.lr());
        if loose {
            (self.remote_target.clone(), self.route_set.clone())
        } else {
            let mut routes: Vec<String> = self.route_set.iter().skip(1).cloned().collect();
            routes.push(format!("<{}>", self.remote_target));
            (inner.to_string(), routes)
        }
    }

    /// The next request in the dialog (BYE, re-INVITE, UPDATE, INFO, ...), with a new
    /// CSeq, the route set applied and `via` as its Via value (`SIP/2.0/UDP host;branch=
    /// ...`, made by the caller who knows the transport). ACK and CANCEL are refused:
    /// see [`ack`](Self::ack); a CANCEL belongs to the INVITE's transaction.
    pub fn request(&mut self, method: Method<'_>, via: &str) -> Result<Bytes, DialogError> {
        if self.state == State::Terminated {
            return Err(DialogError::Terminated);
        }
        match method {
            Method::Ack => return Err(DialogError::Method("ACK")),
            Method::Cancel => return Err(DialogError::Method("CANCEL")),
            _ => {}
        }
        self.local_seq = self.local_seq.wrapping_add(1).max(1);
        Ok(self.build(method, via, self.local_seq))
    }

    /// The ACK for a 2xx to the INVITE with CSeq `invite_seq` (RFC 3261 §13.2.2.4: same
    /// CSeq number, method ACK, the route set applied; a new branch in `via`).
    pub fn ack(&self, invite_seq: u32, via: &str) -> Result<Bytes, DialogError> {
        if self.state == State::Terminated {
            return Err(DialogError::Terminated);
        }
        Ok(self.build(Method::Ack, via, invite_seq))
    }

    fn build(&self, method: Method<'_>, via: &str, seq: u32) -> Bytes {
        let (uri, routes) = self.next_hop();
        let contact = self.local_contact.as_ref().map(|c| format!("<{c}>"));
        let mut b = RequestBuilder::new(method, uri.as_str())
            .via(via)
            .from(self.local.as_str())
            .to(self.remote.as_str())
            .call_id(self.id.call_id.as_str())
            .cseq(seq);
        for r in &routes {
            b = b.route(r.as_str());
        }
        if let (Some(c), Method::Invite | Method::Update) = (&contact, method) {
            b = b.contact(c.as_str());
        }
        b.build()
    }
}
