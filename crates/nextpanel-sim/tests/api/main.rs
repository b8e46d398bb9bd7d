//! Integration tests: a real simulator on 127.0.0.1:0, talked to over HTTP.
#![allow(clippy::unwrap_used)]

mod accounts;
mod auth;
mod cli;
mod control;
mod extensions;
mod faults;
mod helpers;
mod license;
mod persistence;
