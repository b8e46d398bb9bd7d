//! Where the CLI keeps what must survive between runs: the login (`credentials.json`)
//! and an unfinished provisioning (`provision-resume.json`), in files only their owner can read.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// What `login` stores. No `Debug`: the tokens must never end up in a log or an error.
#[derive(Clone, Serialize, Deserialize)]
pub struct Credentials {
    /// Base URL of the nextpanel-bill server.
    pub url: String,
    /// Bearer token sent with every call.
    pub access_token: String,
    /// Single-use token that buys a new pair when the access token has expired.
    pub refresh_token: String,
}

/// The CLI's directory: `$XDG_CONFIG_HOME/nextpanel-bill`, else `~/.config/nextpanel-bill`.
pub fn config_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(dir).join("nextpanel-bill"));
    }
    let home = std::env::var_os("HOME").filter(|v| !v.is_empty()).context(
        "neither XDG_CONFIG_HOME nor HOME is set: cannot find the configuration directory",
    )?;
    Ok(PathBuf::from(home).join(".config").join("nextpanel-bill"))
}

/// Path of the credentials file.
pub fn credentials_path() -> anyhow::Result<PathBuf> {
    Ok(config_dir()?.join("credentials.json"))
}

impl Credentials {
    /// The stored login, or `None` when there is none.
    pub fn load() -> anyhow::Result<Option<Credentials>> {
        read_json(&credentials_path()?)
    }

    /// Stores the login (mode 0600).
    pub fn save(&self) -> anyhow::Result<()> {
        write_json(&credentials_path()?, self)
    }
}

/// Reads a JSON file, `None` when it does not exist.
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> anyhow::Result<Option<T>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .with_context(|| format!("{} is damaged; remove it", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Writes `value` as JSON to `path`, readable by its owner only.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let bytes = serde_json::to_vec_pretty(value)?;
    write_private(path, &bytes)
}

/// Removes a file; a missing one is fine.
pub fn remove(path: &Path) -> anyhow::Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
}

/// Writes through a temporary file created with mode 0600 and renamed over the target, so the
/// secret is never readable by others, not even for a moment, and a crash leaves the old file whole.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .context("the credentials path has no directory")?;
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = path.with_extension("json.tmp");
    remove(&tmp)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
