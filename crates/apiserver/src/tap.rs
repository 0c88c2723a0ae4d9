//! The seam between request handling and the test machinery. With the `test-machinery`
//! feature, requests are recorded, faults injected and watches paused or muted (see
//! `machinery`); without it (the release build, `greenlight demo`) these are no-ops and
//! nothing about a request is kept.

/// What is known of a request before its body is read (kept only by the test machinery).
#[cfg_attr(
    not(feature = "test-machinery"),
    expect(dead_code, reason = "read by the test machinery only")
)]
pub(crate) struct Facts<'a> {
    pub(crate) user: &'a str,
    pub(crate) user_agent: &'a str,
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) query: &'a str,
    pub(crate) accept: &'a str,
    pub(crate) content_type: &'a str,
}

#[cfg(feature = "test-machinery")]
pub(crate) use crate::machinery::{Tap, intercept, latency, muted, rules_incomplete, watch_gate};
#[cfg(not(feature = "test-machinery"))]
pub(crate) use off::{Tap, intercept, latency, muted, rules_incomplete, watch_gate};

#[cfg(not(feature = "test-machinery"))]
mod off {
    use std::sync::Arc;

    use hyper::Response;

    use super::Facts;
    use crate::reply::Body;
    use crate::state::Shared;

    /// Records nothing.
    #[derive(Clone)]
    pub(crate) struct Tap;

    impl Tap {
        pub(crate) fn open(_: &Arc<Shared>, _: &Facts<'_>) -> Self {
            Tap
        }
        pub(crate) fn status(&self, _: u16) {}
        pub(crate) fn body(&self, _: &[u8]) {}
    }

    /// No faults: every request is served.
    pub(crate) async fn intercept(_: &Shared, _: &str) -> Option<Response<Body>> {
        None
    }

    /// No added round trip.
    pub(crate) async fn latency(_: &Shared) {}

    /// Rules reviews are complete: the server's RBAC is all there is.
    pub(crate) fn rules_incomplete(_: &Shared) -> bool {
        false
    }

    /// Watches start at once.
    pub(crate) async fn watch_gate(_: &Shared) {}

    /// Watches always speak.
    pub(crate) fn muted(_: &Shared) -> bool {
        false
    }
}
