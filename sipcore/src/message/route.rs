//! Address lists: `Route`, `Record-Route`, `Path` (RFC 3327), `Service-Route`
//! (RFC 3608), and the list iterator `Contact` shares with them.
//!
//! A route value is a name-addr (the URI in angle brackets) followed by parameters
//! (RFC 3261 §20.30, §20.34): `Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>`.

use super::{parse_contact, HeaderId, HeaderValues, MessageBuf, NameAddr};
use crate::syntax::ParseError;

/// Which grammar a [`NameAddrs`] list applies to each value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListKind {
    /// name-addr only (angle brackets required).
    Route,
    /// name-addr or addr-spec, checked `q`/`expires`; `*` is an error inside a list.
    Contact,
}

/// Iterator over the name-addr values of a list header, across comma lists and repeated
/// header lines, in order. A value that does not parse is an `Err` with its absolute
/// offset; the iteration goes on with the next value.
///
/// ```
/// use sipcore::message::Message;
/// let msg = Message::parse(bytes::Bytes::from_static(
///     b"BYE sip:bob@192.0.2.4 SIP/2.0\r\n\
///       Route: <sip:p1.example.com;lr>,<sip:p2.example.com;lr>\r\n\
///       Route: \"p3, the last\" <sip:p3.example.com;lr>;x=1\r\n\r\n",
/// )).unwrap();
/// let uris: Vec<&[u8]> = msg.routes().map(|r| r.unwrap().uri_bytes()).collect();
/// assert_eq!(uris, [&b"sip:p1.example.com;lr"[..], b"sip:p2.example.com;lr", b"sip:p3.example.com;lr"]);
/// ```
#[derive(Debug, Clone)]
pub struct NameAddrs<'a> {
    values: HeaderValues<'a>,
    kind: ListKind,
}

impl<'a> NameAddrs<'a> {
    pub(crate) fn new(msg: &'a MessageBuf, id: HeaderId, kind: ListKind) -> Self {
        NameAddrs {
            values: msg.values(id),
            kind,
        }
    }
}

impl<'a> Iterator for NameAddrs<'a> {
    type Item = Result<NameAddr<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (off, v) = self.values.next()?;
        let parsed = match self.kind {
            ListKind::Route => parse_route(v),
            ListKind::Contact if v == b"*" => Err(ParseError::malformed(
                0,
                "'*' only as the sole Contact value",
            )),
            ListKind::Contact => parse_contact(v),
        };
        Some(parsed.map_err(|e| e.shifted(off)))
    }
}

/// Parses one route value (`Route`, `Record-Route`, `Path`, `Service-Route`): a
/// name-addr, the URI in angle brackets, with parameters.
///
/// ```
/// use sipcore::message::parse_route;
/// assert!(parse_route(b"<sip:proxy.example.com;lr>;foo=bar").is_ok());
/// assert!(parse_route(b"sip:proxy.example.com;lr").is_err());
/// ```
pub fn parse_route(value: &[u8]) -> Result<NameAddr<'_>, ParseError> {
    let n = NameAddr::parse(value)?;
    if !n.angle_brackets {
        let start = value
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        return Err(ParseError::malformed(
            start,
            "'<' (route values are name-addr)",
        ));
    }
    Ok(n)
}

impl MessageBuf {
    /// Every `Route` value, top first.
    pub fn routes(&self) -> NameAddrs<'_> {
        NameAddrs::new(self, HeaderId::Route, ListKind::Route)
    }

    /// Every `Record-Route` value, top first.
    pub fn record_routes(&self) -> NameAddrs<'_> {
        NameAddrs::new(self, HeaderId::RecordRoute, ListKind::Route)
    }

    /// Every `Path` value (RFC 3327), top first.
    pub fn paths(&self) -> NameAddrs<'_> {
        NameAddrs::new(self, HeaderId::Path, ListKind::Route)
    }

    /// Every `Service-Route` value (RFC 3608), top first.
    pub fn service_routes(&self) -> NameAddrs<'_> {
        NameAddrs::new(self, HeaderId::ServiceRoute, ListKind::Route)
    }
}

#[cfg(test)]
mod tests {
    use crate::message::Message;

    fn msg(headers: &str) -> Message {
        let text = format!("INVITE sip:a@example.com SIP/2.0\r\n{headers}\r\n");
        Message::parse(bytes::Bytes::from(text)).unwrap()
    }

    #[test]
    fn route_lists_in_order_across_lines() {
        let m = msg("Record-Route: <sip:p4.domain.com;lr>\r\nRoute: <sip:a;lr>, \"x, y\" <sip:b;lr>;p=1\r\nPath: <sip:pa.example.com;lr>\r\nRoute: <sip:c>\r\n");
        let r: Vec<_> = m.routes().map(|r| r.unwrap()).collect();
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].uri_bytes(), b"sip:a;lr");
        assert_eq!(r[1].display_name().as_deref(), Some(&b"x, y"[..]));
        assert_eq!(r[1].param_str("p"), Some("1"));
        assert_eq!(r[2].uri_bytes(), b"sip:c");
        assert_eq!(m.record_routes().count(), 1);
        assert_eq!(
            m.paths().next().unwrap().unwrap().uri_bytes(),
            b"sip:pa.example.com;lr"
        );
        assert_eq!(m.service_routes().count(), 0);
    }

    #[test]
    fn comma_inside_angle_brackets_does_not_split() {
        let m = msg("Route: <sip:a;x=1,2>, <sip:b>\r\n");
        let r: Vec<_> = m.routes().map(|r| r.unwrap().uri_bytes()).collect();
        assert_eq!(r, vec![&b"sip:a;x=1,2"[..], b"sip:b"]);
    }

    #[test]
    fn route_must_be_name_addr() {
        let m = msg("Route: <sip:ok;lr>, sip:bare;lr, <sip:open\r\n");
        let mut it = m.routes();
        assert!(it.next().unwrap().is_ok());
        let e = it.next().unwrap().unwrap_err();
        assert_eq!(&m.as_bytes()[e.offset()..e.offset() + 4], b"sip:");
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none());
    }

    #[test]
    fn empty_items_are_errors() {
        let m = msg("Route: <sip:a>,,<sip:b>\r\n");
        let r: Vec<_> = m.routes().map(|r| r.is_ok()).collect();
        assert_eq!(r, vec![true, false, true]);
        let m = msg("Record-Route:\r\n");
        assert!(m.record_routes().next().unwrap().is_err());
    }
}
