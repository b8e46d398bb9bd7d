//! The provisioning log: one JSON line per provisioned or changed hosting account,
//! appended to a file for operators and kept in the audit table as well.
//! Passwords never appear in it.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

/// One line of the provisioning log.
#[derive(Debug, Serialize)]
pub struct LogLine<'a> {
    /// RFC 3339 UTC.
    pub time: String,
    /// Hosting account id.
    pub account_id: i64,
    /// The customer's email.
    pub customer_email: &'a str,
    /// Hosting username.
    pub username: &'a str,
    /// License key.
    pub license_key: &'a str,
    /// Server name.
    pub server: &'a str,
    /// New state.
    pub state: &'a str,
    /// Who did it.
    pub actor: &'a str,
    /// What happened, e.g. `account.provisioned`.
    pub action: &'a str,
}

/// Appends a line; a failure to write is logged, never fatal (the audit table has the record).
pub fn append(path: &Path, line: &LogLine<'_>) {
    let result = serde_json::to_string(line)
        .map_err(std::io::Error::other)
        .and_then(|text| {
            // It names customers and their accounts: readable by the service only.
            let mut file = crate::files::append_private(path)?;
            writeln!(file, "{text}")
        });
    if let Err(e) = result {
        tracing::warn!(path = %path.display(), error = %e, "cannot append to the provisioning log");
    }
}
