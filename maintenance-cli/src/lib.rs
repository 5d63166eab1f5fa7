//! `maintenance-cli`: the `maintenance` command and the admin page.
//!
//! Not built yet: this crate is an empty placeholder in the workspace and
//! provides nothing so far. See the workspace README for what works today.
#![forbid(unsafe_code)]
