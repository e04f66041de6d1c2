//! The dialogs one INVITE creates when a proxy forks it (RFC 3261 §12.1.2, §13.2.2.4):
//! one per To tag, early on a 1xx, confirmed on a 2xx; when the INVITE fails, every
//! early one ends.

use crate::message::{Request, Response};

use super::{Dialog, DialogError, State};

/// The UAC dialogs of one INVITE, by remote tag (bounded: a forking storm cannot make
/// it grow without end).
#[derive(Debug, Clone)]
pub struct DialogSet {
    invite: Request,
    dialogs: Vec<Dialog>,
    max: usize,
}

impl DialogSet {
    /// Most dialogs one INVITE may create here (forks beyond are refused).
    pub const MAX: usize = 32;

    /// The set for `invite` (the request as sent).
    pub fn new(invite: Request) -> DialogSet {
        DialogSet {
            invite,
            dialogs: Vec::new(),
            max: Self::MAX,
        }
    }

    /// A response to the INVITE: a 1xx with a To tag or a 2xx creates the dialog of
    /// its tag (or updates it: a 2xx confirms, a later Contact refreshes the target);
    /// a final non-2xx ends every early dialog. Returns the dialog the response is
    /// for, if any.
    pub fn on_response(&mut self, resp: &Response) -> Result<Option<&mut Dialog>, DialogError> {
        let status = resp.status();
        if status.as_u16() >= 300 {
            for d in &mut self.dialogs {
                if d.state() == State::Early {
                    d.terminate();
                }
            }
            return Ok(None);
        }
        let Some(tag) = resp.to()?.tag() else {
            return Ok(None);
        };
        if status.as_u16() == 100 {
            return Ok(None);
        }
        let at = self.dialogs.iter().position(|d| d.id().remote_tag == tag);
        let i = match at {
            Some(i) => {
                let d = &mut self.dialogs[i];
                if status.is_success() {
                    d.confirm();
                    if let Ok(t) = super::contact_uri(resp.contacts()) {
                        d.remote_target = t;
                    }
                    let mut routes = super::record_route(resp)?;
                    routes.reverse();
                    if !routes.is_empty() {
                        d.route_set = routes;
                    }
                }
                i
            }
            None => {
                if self.dialogs.len() >= self.max {
                    return Err(DialogError::Header {
                        header: "To",
                        why: "too many forked dialogs for one INVITE",
                    });
                }
                self.dialogs.push(Dialog::uac(&self.invite, resp)?);
                self.dialogs.len() - 1
            }
        };
        Ok(self.dialogs.get_mut(i))
    }

    /// The dialogs, in the order their first response came.
    pub fn dialogs(&self) -> &[Dialog] {
        &self.dialogs
    }

    /// The dialog with remote tag `tag`.
    pub fn get_mut(&mut self, tag: &str) -> Option<&mut Dialog> {
        self.dialogs.iter_mut().find(|d| d.id().remote_tag == tag)
    }
}
