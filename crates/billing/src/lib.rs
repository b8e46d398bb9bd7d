//! nextpanel-bill: billing and hosting-account provisioning for NextPanel servers.
//!
//! The library holds the whole application; the `nextpanel-bill` binary only parses
//! the command line and calls into [`app`].

pub mod app;
pub mod config;
pub mod documents;
pub mod domain;
pub mod files;
pub mod http;
pub mod jobs;
pub mod mail;
pub mod panel;
pub mod payments;
pub mod seed;
pub mod service;
pub mod store;
pub mod vault;
