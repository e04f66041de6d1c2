//! The `Contact` header (RFC 3261 §20.10): `*`, or a list of name-addr / addr-spec values
//! with `q` and `expires` parameters.

use super::route::ListKind;
use super::views::parse_qvalue;
use super::{HeaderId, MessageBuf, NameAddr, NameAddrs};
use crate::syntax::lex::run_all;
use crate::syntax::ParseError;

/// The `Contact` values of a message: the `*` wildcard (REGISTER, remove all bindings) or
/// a list of addresses.
///
/// ```
/// use sipcore::message::{Contacts, Message};
/// let msg = Message::parse(bytes::Bytes::from_static(
///     b"REGISTER sip:bell-telephone.com SIP/2.0\r\n\
///       Contact: \"Mr. Watson\" <sip:watson@worcester.bell-telephone.com>;q=0.7; expires=3600, \
///       \"Mr. Watson\" <mailto:watson@bell-telephone.com> ;q=0.1\r\n\r\n",
/// )).unwrap();
/// let Contacts::List(list) = msg.contacts().unwrap() else { panic!("not a list") };
/// let c: Vec<_> = list.collect::<Result<_, _>>().unwrap();
/// assert_eq!((c[0].q(), c[0].expires()), (Some(700), Some(3600)));
/// assert_eq!(c[1].uri_bytes(), b"mailto:watson@bell-telephone.com");
/// ```
#[derive(Debug, Clone)]
pub enum Contacts<'a> {
    /// `Contact: *`, the only Contact value of the message.
    Wildcard,
    /// The addresses, in order (empty when the message has no Contact).
    List(NameAddrs<'a>),
}

impl<'a> Contacts<'a> {
    /// Whether this is the `*` wildcard.
    pub fn is_wildcard(&self) -> bool {
        matches!(self, Contacts::Wildcard)
    }

    /// The address list, or `None` for the wildcard.
    pub fn into_list(self) -> Option<NameAddrs<'a>> {
        match self {
            Contacts::Wildcard => None,
            Contacts::List(l) => Some(l),
        }
    }
}

/// Parses one Contact value (not `*`): a name-addr or addr-spec with parameters; `q` must
/// be a qvalue and `expires` delta-seconds (at most 2^32-1).
///
/// ```
/// use sipcore::message::parse_contact;
/// assert_eq!(parse_contact(b"<sip:a@b>;expires=60").unwrap().expires(), Some(60));
/// assert!(parse_contact(b"<sip:a@b>;q=2").is_err());
/// assert!(parse_contact(b"<sip:a@b>;expires=").is_err());
/// ```
pub fn parse_contact(value: &[u8]) -> Result<NameAddr<'_>, ParseError> {
    let n = NameAddr::parse(value)?;
    for p in n.params {
        let is = |name: &str| p.name.eq_ignore_ascii_case(name);
        let (ok, what) = if is("q") {
            (p.value_str().and_then(parse_qvalue).is_some(), "qvalue")
        } else if is("expires") {
            let v = p.value.unwrap_or_default();
            let ok = run_all(v, |i| {
                crate::syntax::lex::decimal(i, u64::from(u32::MAX), "delta-seconds")
            })
            .is_ok();
            (ok, "expires in delta-seconds (32 bit)")
        } else {
            (true, "")
        };
        if !ok {
            let at = p.value.unwrap_or(p.name.as_bytes());
            let off = (at.as_ptr() as usize).saturating_sub(value.as_ptr() as usize);
            return Err(ParseError::malformed(off, what));
        }
    }
    Ok(n)
}

impl MessageBuf {
    /// The Contact (`m`) values: the wildcard, or the address list (empty when there is
    /// no Contact). `*` together with any other Contact value is an error; so is a value
    /// that does not parse, when the list reaches it.
    pub fn contacts(&self) -> Result<Contacts<'_>, ParseError> {
        let mut values = self.values(HeaderId::Contact);
        match values.next() {
            Some((_, b"*")) => match values.next() {
                None => Ok(Contacts::Wildcard),
                Some((off, _)) => Err(ParseError::malformed(
                    off,
                    "no other Contact value with '*'",
                )),
            },
            _ => Ok(Contacts::List(NameAddrs::new(
                self,
                HeaderId::Contact,
                ListKind::Contact,
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;

    fn msg(headers: &str) -> Message {
        let text = format!("REGISTER sip:example.com SIP/2.0\r\n{headers}\r\n");
        Message::parse(bytes::Bytes::from(text)).unwrap()
    }

    fn list(m: &Message) -> Vec<Result<NameAddr<'_>, ParseError>> {
        m.contacts().unwrap().into_list().unwrap().collect()
    }

    #[test]
    fn rfc3261_watson_example() {
        let m = msg("Contact: \"Mr. Watson\" <sip:watson@worcester.bell-telephone.com>;q=0.7; expires=3600, \"Mr. Watson\" <mailto:watson@bell-telephone.com> ;q=0.1\r\n");
        let c = list(&m);
        assert_eq!(c.len(), 2);
        let a = c[0].as_ref().unwrap();
        assert_eq!(a.display_name().as_deref(), Some(&b"Mr. Watson"[..]));
        assert_eq!(a.uri_bytes(), b"sip:watson@worcester.bell-telephone.com");
        assert_eq!(a.q(), Some(700));
        assert_eq!(a.expires(), Some(3600));
        let b = c[1].as_ref().unwrap();
        assert_eq!(b.uri_bytes(), b"mailto:watson@bell-telephone.com");
        assert_eq!(b.q(), Some(100));
        assert_eq!(b.expires(), None);
    }

    #[test]
    fn compact_form_repeated_lines_and_quoted_commas() {
        let m = msg("m: <sip:a@192.0.2.1>\r\nContact: \"Doe, John\" <sip:j@d>;expires=0\r\nm: sip:bare@host;q=1\r\n");
        let c: Vec<_> = list(&m).into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(c.len(), 3);
        assert_eq!(c[1].display_name().as_deref(), Some(&b"Doe, John"[..]));
        assert_eq!(c[1].expires(), Some(0));
        assert!(!c[2].angle_brackets);
        assert_eq!(c[2].q(), Some(1000));
    }

    #[test]
    fn wildcard_alone() {
        assert!(msg("Contact: *\r\n").contacts().unwrap().is_wildcard());
        assert!(msg("Contact:   *  \r\n").contacts().unwrap().is_wildcard());
        let m = msg("Contact: *, <sip:a@b>\r\n");
        let e = m.contacts().unwrap_err();
        assert_eq!(m.as_bytes()[e.offset()], b'<');
        assert!(msg("Contact: *\r\nContact: <sip:a@b>\r\n")
            .contacts()
            .is_err());
        let m = msg("Contact: <sip:a@b>, *\r\n");
        let c = list(&m);
        assert!(c[0].is_ok());
        assert!(c[1].is_err());
        assert!(msg("Contact: *;expires=0\r\n")
            .contacts()
            .unwrap()
            .into_list()
            .unwrap()
            .next()
            .unwrap()
            .is_err());
    }

    #[test]
    fn token_display_name_without_quotes() {
        let m = msg("Contact: Mr. Watson <sip:watson@worcester.bell-telephone.com>\r\n");
        let c = list(&m).remove(0).unwrap();
        assert_eq!(c.display_name().as_deref(), Some(&b"Mr. Watson"[..]));
    }

    #[test]
    fn no_contact_is_empty_list() {
        assert_eq!(msg("").contacts().unwrap().into_list().unwrap().count(), 0);
    }

    #[test]
    fn malformed_contacts() {
        for bad in [
            "Contact: <sip:a@b>;q=1.5",
            "Contact: <sip:a@b>;q",
            "Contact: <sip:a@b>;expires=soon",
            "Contact: <sip:a@b>;expires=4294967296",
            "Contact: <sip:a@b>;expires",
            "Contact: <sip:a@b>;;q=1",
            "Contact: <sip:a@b>;q=",
            "Contact: Mr: Watson <sip:a@b>",
            "Contact: W@tson <sip:a@b>",
            "Contact: \"Mr. Watson <sip:a@b>",
            "Contact: sip:a@b?Subject=x",
            "Contact: <sip:a@b",
            "Contact: ",
            "Contact: <sip:a@b>,",
        ] {
            let m = msg(&format!("{bad}\r\n"));
            let c = list(&m);
            assert!(c.iter().any(|r| r.is_err()), "{bad}");
        }
    }

    #[test]
    fn error_offsets_are_absolute() {
        let m = msg("Contact: <sip:a@b>, <sip:c@d>;q=7\r\n");
        let e = list(&m)[1].unwrap_err();
        assert_eq!(m.as_bytes()[e.offset()], b'7');
        assert_eq!(e.expected(), "qvalue");
    }

    #[test]
    fn escaped_headers_need_angle_brackets() {
        let m = msg("Contact: <sip:a@b?Subject=x%20y>\r\n");
        assert!(list(&m)[0].is_ok());
    }
}
