//! The routes' handlers: the pages (the list and each site's), login, and the forms that
//! change the store. Each takes its request through the guards' extractors, so it starts
//! with a checked sender and, for a form, a checked form.

pub(crate) mod forms;
pub(crate) mod lists;
pub(crate) mod login;
pub(crate) mod pages;
pub(crate) mod sites;
pub(crate) mod state;
