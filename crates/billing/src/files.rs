//! Files that hold customers' data or secrets (the SQLite database with its WAL and SHM
//! files, the provisioning log, the master key file): created readable by their owner
//! only, and reported at start-up when an existing one is readable by others.

use std::io;
use std::path::{Path, PathBuf};

/// Creates `path` (and its directory) with mode 0600; fails when it exists.
pub fn create_new_private(path: &Path) -> io::Result<std::fs::File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    private_options().write(true).create_new(true).open(path)
}

/// Creates `path` empty with mode 0600 unless it exists (an existing file keeps its mode).
pub fn create_private(path: &Path) -> io::Result<()> {
    match create_new_private(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Makes an existing file readable by its owner only (a copy another program wrote).
pub fn make_private(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Writes `bytes` to a new file at `path` with mode 0600; fails when it exists.
pub fn write_new_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    create_new_private(path)?.write_all(bytes)
}

/// Opens `path` for appending, creating it with mode 0600 when missing.
pub fn append_private(path: &Path) -> io::Result<std::fs::File> {
    private_options().create(true).append(true).open(path)
}

fn private_options() -> std::fs::OpenOptions {
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut options = std::fs::OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// The files among `paths` that exist and that the group or others may read or write.
pub fn shared(paths: &[PathBuf]) -> Vec<(PathBuf, u32)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        paths
            .iter()
            .filter_map(|p| {
                let mode = std::fs::metadata(p).ok()?.permissions().mode() & 0o777;
                (mode & 0o077 != 0).then(|| (p.clone(), mode))
            })
            .collect()
    }
    #[cfg(not(unix))]
    {
        let _ = paths;
        Vec::new()
    }
}

/// The SQLite database file of a `sqlite://` URL with its WAL and SHM companions.
pub fn sqlite_files(database_url: &str) -> Vec<PathBuf> {
    let Some(file) = sqlite_path(database_url) else {
        return Vec::new();
    };
    ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| PathBuf::from(format!("{}{suffix}", file.display())))
        .collect()
}

/// The file of an `sqlite://` URL; `None` for other engines and in-memory databases.
pub fn sqlite_path(database_url: &str) -> Option<PathBuf> {
    let rest = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))?;
    let file = rest.split('?').next().unwrap_or(rest);
    (!file.is_empty() && file != ":memory:").then(|| PathBuf::from(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_files_are_0600_and_shared_ones_are_found() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let db = dir.path().join("data/bill.db");
        create_private(&db)?;
        let log = dir.path().join("provisioned.log");
        drop(append_private(&log)?);
        assert!(shared(&[db.clone(), log.clone()]).is_empty());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&db)?.permissions().mode() & 0o777, 0o600);
            std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o644))?;
            assert_eq!(shared(&[db, log.clone()]), vec![(log, 0o644)]);
        }
        Ok(())
    }

    #[test]
    fn sqlite_urls_name_their_three_files() {
        assert_eq!(
            sqlite_files("sqlite://data/bill.db?mode=rwc"),
            vec![
                PathBuf::from("data/bill.db"),
                PathBuf::from("data/bill.db-wal"),
                PathBuf::from("data/bill.db-shm")
            ]
        );
        assert!(sqlite_files("sqlite::memory:").is_empty());
        assert!(sqlite_files("postgres://x@y/z").is_empty());
    }
}
