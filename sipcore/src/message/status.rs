//! SIP response status codes.

use std::fmt;

/// A SIP status code, 100 to 699.
///
/// ```
/// use sipcore::message::StatusCode;
/// let c = StatusCode::new(486).unwrap();
/// assert!(c.is_final() && !c.is_success());
/// assert_eq!(c.class(), 4);
/// assert_eq!(c.canonical_reason(), "Busy Here");
/// assert!(StatusCode::new(700).is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StatusCode(u16);

macro_rules! codes {
    ($( $name:ident = $code:literal, $reason:literal; )*) => {
        impl StatusCode {
            $(
                #[doc = concat!("`", stringify!($code), " ", $reason, "`")]
                pub const $name: StatusCode = StatusCode($code);
            )*

            /// The reason phrase RFC 3261 (or the RFC defining the code) gives, or a
            /// generic one for the class.
            pub fn canonical_reason(self) -> &'static str {
                match self.0 {
                    $( $code => $reason, )*
                    100..=199 => "Provisional",
                    200..=299 => "OK",
                    300..=399 => "Redirection",
                    400..=499 => "Client Error",
                    500..=599 => "Server Error",
                    _ => "Global Failure",
                }
            }
        }
    };
}

codes! {
    TRYING = 100, "Trying";
    RINGING = 180, "Ringing";
    CALL_IS_BEING_FORWARDED = 181, "Call Is Being Forwarded";
    QUEUED = 182, "Queued";
    SESSION_PROGRESS = 183, "Session Progress";
    OK = 200, "OK";
    ACCEPTED = 202, "Accepted";
    MULTIPLE_CHOICES = 300, "Multiple Choices";
    MOVED_PERMANENTLY = 301, "Moved Permanently";
    MOVED_TEMPORARILY = 302, "Moved Temporarily";
    USE_PROXY = 305, "Use Proxy";
    BAD_REQUEST = 400, "Bad Request";
    UNAUTHORIZED = 401, "Unauthorized";
    PAYMENT_REQUIRED = 402, "Payment Required";
    FORBIDDEN = 403, "Forbidden";
    NOT_FOUND = 404, "Not Found";
    METHOD_NOT_ALLOWED = 405, "Method Not Allowed";
    NOT_ACCEPTABLE = 406, "Not Acceptable";
    PROXY_AUTHENTICATION_REQUIRED = 407, "Proxy Authentication Required";
    REQUEST_TIMEOUT = 408, "Request Timeout";
    GONE = 410, "Gone";
    REQUEST_ENTITY_TOO_LARGE = 413, "Request Entity Too Large";
    REQUEST_URI_TOO_LONG = 414, "Request-URI Too Long";
    UNSUPPORTED_MEDIA_TYPE = 415, "Unsupported Media Type";
    UNSUPPORTED_URI_SCHEME = 416, "Unsupported URI Scheme";
    BAD_EXTENSION = 420, "Bad Extension";
    EXTENSION_REQUIRED = 421, "Extension Required";
    INTERVAL_TOO_BRIEF = 423, "Interval Too Brief";
    TEMPORARILY_UNAVAILABLE = 480, "Temporarily Unavailable";
    CALL_TRANSACTION_DOES_NOT_EXIST = 481, "Call/Transaction Does Not Exist";
    LOOP_DETECTED = 482, "Loop Detected";
    TOO_MANY_HOPS = 483, "Too Many Hops";
    ADDRESS_INCOMPLETE = 484, "Address Incomplete";
    AMBIGUOUS = 485, "Ambiguous";
    BUSY_HERE = 486, "Busy Here";
    REQUEST_TERMINATED = 487, "Request Terminated";
    NOT_ACCEPTABLE_HERE = 488, "Not Acceptable Here";
    BAD_EVENT = 489, "Bad Event";
    REQUEST_PENDING = 491, "Request Pending";
    UNDECIPHERABLE = 493, "Undecipherable";
    SERVER_INTERNAL_ERROR = 500, "Server Internal Error";
    NOT_IMPLEMENTED = 501, "Not Implemented";
    BAD_GATEWAY = 502, "Bad Gateway";
    SERVICE_UNAVAILABLE = 503, "Service Unavailable";
    SERVER_TIMEOUT = 504, "Server Time-out";
    VERSION_NOT_SUPPORTED = 505, "Version Not Supported";
    MESSAGE_TOO_LARGE = 513, "Message Too Large";
    BUSY_EVERYWHERE = 600, "Busy Everywhere";
    DECLINE = 603, "Decline";
    DOES_NOT_EXIST_ANYWHERE = 604, "Does Not Exist Anywhere";
    NOT_ACCEPTABLE_ANYWHERE = 606, "Not Acceptable";
}

impl StatusCode {
    /// A status code, if `code` is within 100..=699.
    pub const fn new(code: u16) -> Option<StatusCode> {
        if code >= 100 && code <= 699 {
            Some(StatusCode(code))
        } else {
            None
        }
    }

    /// The numeric code.
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// The class: 1 to 6.
    pub const fn class(self) -> u8 {
        (self.0 / 100) as u8
    }

    /// 1xx.
    pub const fn is_provisional(self) -> bool {
        self.0 < 200
    }

    /// 2xx.
    pub const fn is_success(self) -> bool {
        self.0 >= 200 && self.0 < 300
    }

    /// 200..=699.
    pub const fn is_final(self) -> bool {
        self.0 >= 200
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
