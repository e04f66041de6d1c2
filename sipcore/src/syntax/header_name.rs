//! Well-known header names, their compact forms, and the lookup from raw names.

use std::fmt;

macro_rules! headers {
    ($( $(#[$doc:meta])* $id:ident => $name:literal $(, $compact:literal)? ;)*) => {
        /// A well-known header, recognised by its full or compact name (RFC 3261 §7.3.3
        /// and later RFCs) so lookups compare one byte instead of a string.
        ///
        /// ```
        /// use sipcore::message::HeaderId;
        /// assert_eq!(HeaderId::from_name(b"v"), HeaderId::Via);
        /// assert_eq!(HeaderId::from_name(b"call-ID"), HeaderId::CallId);
        /// assert_eq!(HeaderId::from_name(b"X-Custom"), HeaderId::Other);
        /// assert_eq!(HeaderId::Via.name(), "Via");
        /// ```
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        #[non_exhaustive]
        pub enum HeaderId {
            $( $(#[$doc])* $id, )*
            /// Any header not listed here; compare its name with
            /// [`Message::header_by_name`](crate::message::MessageBuf::header_by_name).
            Other,
        }

        impl HeaderId {
            /// The canonical (long) name.
            pub fn name(self) -> &'static str {
                match self {
                    $( HeaderId::$id => $name, )*
                    HeaderId::Other => "",
                }
            }

            /// The compact form, if the header has one.
            pub fn compact(self) -> Option<char> {
                match self {
                    $( $( HeaderId::$id => Some($compact), )? )*
                    _ => None,
                }
            }

            /// The long names and their ids.
            const LONG: &'static [(&'static str, HeaderId)] = &[ $( ($name, HeaderId::$id), )* ];

            fn from_compact(c: u8) -> HeaderId {
                match c.to_ascii_lowercase() {
                    $( $( c if char::from(c) == $compact => HeaderId::$id, )? )*
                    _ => HeaderId::Other,
                }
            }
        }
    };
}

headers! {
    /// `Via` / `v`
    Via => "Via", 'v';
    /// `From` / `f`
    From => "From", 'f';
    /// `To` / `t`
    To => "To", 't';
    /// `Call-ID` / `i`
    CallId => "Call-ID", 'i';
    /// `CSeq`
    CSeq => "CSeq";
    /// `Contact` / `m`
    Contact => "Contact", 'm';
    /// `Max-Forwards`
    MaxForwards => "Max-Forwards";
    /// `Content-Length` / `l`
    ContentLength => "Content-Length", 'l';
    /// `Content-Type` / `c`
    ContentType => "Content-Type", 'c';
    /// `Content-Encoding` / `e`
    ContentEncoding => "Content-Encoding", 'e';
    /// `Route`
    Route => "Route";
    /// `Record-Route`
    RecordRoute => "Record-Route";
    /// `Path` (RFC 3327)
    Path => "Path";
    /// `Expires`
    Expires => "Expires";
    /// `Min-Expires`
    MinExpires => "Min-Expires";
    /// `Require`
    Require => "Require";
    /// `Proxy-Require`
    ProxyRequire => "Proxy-Require";
    /// `Supported` / `k`
    Supported => "Supported", 'k';
    /// `Unsupported`
    Unsupported => "Unsupported";
    /// `Authorization`
    Authorization => "Authorization";
    /// `Proxy-Authorization`
    ProxyAuthorization => "Proxy-Authorization";
    /// `WWW-Authenticate`
    WwwAuthenticate => "WWW-Authenticate";
    /// `Proxy-Authenticate`
    ProxyAuthenticate => "Proxy-Authenticate";
    /// `Authentication-Info`
    AuthenticationInfo => "Authentication-Info";
    /// `Retry-After`
    RetryAfter => "Retry-After";
    /// `Allow`
    Allow => "Allow";
    /// `Accept`
    Accept => "Accept";
    /// `Accept-Encoding`
    AcceptEncoding => "Accept-Encoding";
    /// `Accept-Language`
    AcceptLanguage => "Accept-Language";
    /// `Subject` / `s`
    Subject => "Subject", 's';
    /// `User-Agent`
    UserAgent => "User-Agent";
    /// `Server`
    Server => "Server";
    /// `Date`
    Date => "Date";
    /// `Timestamp`
    Timestamp => "Timestamp";
    /// `Warning`
    Warning => "Warning";
    /// `Organization`
    Organization => "Organization";
    /// `Priority`
    Priority => "Priority";
    /// `In-Reply-To`
    InReplyTo => "In-Reply-To";
    /// `Reply-To`
    ReplyTo => "Reply-To";
    /// `Alert-Info`
    AlertInfo => "Alert-Info";
    /// `Call-Info`
    CallInfo => "Call-Info";
    /// `Error-Info`
    ErrorInfo => "Error-Info";
    /// `MIME-Version`
    MimeVersion => "MIME-Version";
    /// `Content-Disposition`
    ContentDisposition => "Content-Disposition";
    /// `Content-Language`
    ContentLanguage => "Content-Language";
    /// `Event` / `o` (RFC 6665)
    Event => "Event", 'o';
    /// `Allow-Events` / `u` (RFC 6665)
    AllowEvents => "Allow-Events", 'u';
    /// `Subscription-State` (RFC 6665)
    SubscriptionState => "Subscription-State";
    /// `Refer-To` / `r` (RFC 3515)
    ReferTo => "Refer-To", 'r';
    /// `Referred-By` / `b` (RFC 3892)
    ReferredBy => "Referred-By", 'b';
    /// `Session-Expires` / `x` (RFC 4028)
    SessionExpires => "Session-Expires", 'x';
    /// `Min-SE` (RFC 4028)
    MinSe => "Min-SE";
    /// `Identity` / `y` (RFC 8224)
    Identity => "Identity", 'y';
    /// `Accept-Contact` / `a` (RFC 3841)
    AcceptContact => "Accept-Contact", 'a';
    /// `Reject-Contact` / `j` (RFC 3841)
    RejectContact => "Reject-Contact", 'j';
    /// `Request-Disposition` / `d` (RFC 3841)
    RequestDisposition => "Request-Disposition", 'd';
    /// `Identity-Info` / `n` (RFC 4474, obsolete)
    IdentityInfo => "Identity-Info", 'n';
    /// `RAck` (RFC 3262)
    RAck => "RAck";
    /// `RSeq` (RFC 3262)
    RSeq => "RSeq";
    /// `Service-Route` (RFC 3608)
    ServiceRoute => "Service-Route";
    /// `P-Asserted-Identity` (RFC 3325)
    PAssertedIdentity => "P-Asserted-Identity";
    /// `Privacy` (RFC 3323)
    Privacy => "Privacy";
    /// `Reason` (RFC 3326)
    Reason => "Reason";
}

/// Slots of the long-name table: a power of two, about twice the number of names.
const SLOTS: usize = 128;
/// An empty slot.
const NO_NAME: u8 = u8::MAX;

/// The first slot to look at for a name of `len` bytes starting with `first` and ending
/// with `last` (any case). Chosen so that the names of the table need at most one step
/// past it (a unit test checks).
const fn slot(len: usize, first: u8, last: u8) -> usize {
    (len * 6 + (first | 0x20) as usize * 36 + (last | 0x20) as usize * 9) & (SLOTS - 1)
}

/// Open-addressing table of the long names: the index into `HeaderId::LONG`, or
/// [`NO_NAME`]. Looking a name up costs one hash, one or two slots and one comparison,
/// where comparing the names in turn cost ~150 instructions for an unlisted name.
static BY_SLOT: [u8; SLOTS] = {
    let mut t = [NO_NAME; SLOTS];
    let mut i = 0;
    while i < HeaderId::LONG.len() {
        let n = HeaderId::LONG[i].0.as_bytes();
        let mut k = slot(n.len(), n[0], n[n.len() - 1]);
        while t[k] != NO_NAME {
            k = (k + 1) & (SLOTS - 1);
        }
        t[k] = i as u8;
        i += 1;
    }
    t
};

impl HeaderId {
    fn from_long(name: &[u8]) -> HeaderId {
        let (Some(&first), Some(&last)) = (name.first(), name.last()) else {
            return HeaderId::Other;
        };
        let mut k = slot(name.len(), first, last);
        // The table is less than half full: an empty slot ends every search.
        loop {
            let Some(&(long, id)) = HeaderId::LONG.get(BY_SLOT[k] as usize) else {
                return HeaderId::Other;
            };
            if name.eq_ignore_ascii_case(long.as_bytes()) {
                return id;
            }
            k = (k + 1) & (SLOTS - 1);
        }
    }

    /// Recognises a header name (case-insensitive, compact forms included).
    #[inline]
    pub fn from_name(name: &[u8]) -> HeaderId {
        match name.len() {
            0 => HeaderId::Other,
            1 => HeaderId::from_compact(name[0]),
            _ => HeaderId::from_long(name),
        }
    }

    /// Headers whose value is a comma-separated list that may also be split over
    /// several header lines (RFC 3261 §7.3.1).
    pub fn is_list(self) -> bool {
        matches!(
            self,
            HeaderId::Via
                | HeaderId::Contact
                | HeaderId::Route
                | HeaderId::RecordRoute
                | HeaderId::Path
                | HeaderId::Require
                | HeaderId::ProxyRequire
                | HeaderId::Supported
                | HeaderId::Unsupported
                | HeaderId::Allow
                | HeaderId::Accept
                | HeaderId::AcceptEncoding
                | HeaderId::AcceptLanguage
                | HeaderId::ContentEncoding
                | HeaderId::ContentLanguage
                | HeaderId::AllowEvents
                | HeaderId::ServiceRoute
                | HeaderId::InReplyTo
                | HeaderId::Warning
                | HeaderId::AlertInfo
                | HeaderId::CallInfo
                | HeaderId::ErrorInfo
                | HeaderId::AcceptContact
                | HeaderId::RejectContact
                | HeaderId::RequestDisposition
                | HeaderId::PAssertedIdentity
                | HeaderId::Privacy
                | HeaderId::Reason
        )
    }

    /// Headers that must appear at most once (used by `validate()`).
    pub fn is_single(self) -> bool {
        matches!(
            self,
            HeaderId::From
                | HeaderId::To
                | HeaderId::CallId
                | HeaderId::CSeq
                | HeaderId::MaxForwards
                | HeaderId::ContentLength
                | HeaderId::ContentType
                | HeaderId::Expires
                | HeaderId::MinExpires
                | HeaderId::RetryAfter
        )
    }
}

impl fmt::Display for HeaderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_forms_of_rfc3261_and_later() {
        for (c, id) in [
            ("i", HeaderId::CallId),
            ("m", HeaderId::Contact),
            ("e", HeaderId::ContentEncoding),
            ("l", HeaderId::ContentLength),
            ("F", HeaderId::From),
            ("s", HeaderId::Subject),
            ("k", HeaderId::Supported),
            ("t", HeaderId::To),
            ("V", HeaderId::Via),
            ("c", HeaderId::ContentType),
            ("o", HeaderId::Event),
            ("u", HeaderId::AllowEvents),
            ("r", HeaderId::ReferTo),
            ("x", HeaderId::SessionExpires),
            ("y", HeaderId::Identity),
            ("b", HeaderId::ReferredBy),
            ("a", HeaderId::AcceptContact),
            ("j", HeaderId::RejectContact),
            ("d", HeaderId::RequestDisposition),
            ("n", HeaderId::IdentityInfo),
            ("z", HeaderId::Other),
        ] {
            assert_eq!(HeaderId::from_name(c.as_bytes()), id, "{c}");
        }
    }

    #[test]
    fn every_long_name_is_found_near_its_slot() {
        assert!(HeaderId::LONG.len() * 2 <= SLOTS);
        for &(name, id) in HeaderId::LONG {
            let n = name.as_bytes();
            let home = slot(n.len(), n[0], n[n.len() - 1]);
            let at = BY_SLOT
                .iter()
                .position(|&i| HeaderId::LONG.get(i as usize).map(|e| e.0) == Some(name))
                .unwrap();
            assert!((at + SLOTS - home) % SLOTS <= 1, "{name}");
            assert_eq!(HeaderId::from_name(n), id);
            assert_eq!(
                HeaderId::from_name(name.to_ascii_uppercase().as_bytes()),
                id
            );
            assert_eq!(
                HeaderId::from_name(name.to_ascii_lowercase().as_bytes()),
                id
            );
        }
    }

    #[test]
    fn long_names_case_insensitive() {
        assert_eq!(HeaderId::from_name(b"cSEQ"), HeaderId::CSeq);
        assert_eq!(
            HeaderId::from_name(b"www-authenticate"),
            HeaderId::WwwAuthenticate
        );
        assert_eq!(HeaderId::from_name(b"Via2"), HeaderId::Other);
    }
}
