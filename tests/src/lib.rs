//! `maintenance-tests`: the cross-crate suites: store conformance on every store and backend, HTTP conformance on every adapter.
//!
//! Not built yet: this crate is an empty placeholder in the workspace and
//! provides nothing so far. See the workspace README for what works today.
#![forbid(unsafe_code)]
