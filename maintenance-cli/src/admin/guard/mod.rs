//! What stands between a request and a handler: the host check (a layer over the whole
//! router), who the sender is and what a form must carry (extractors), the login backoff, the
//! sessions and the token. A refused request gets a [`refusal::Refusal`] page.

pub(crate) mod access;
pub(crate) mod auth;
pub(crate) mod csrf;
pub(crate) mod host;
pub(crate) mod refusal;
pub(crate) mod session;
pub(crate) mod throttle;
