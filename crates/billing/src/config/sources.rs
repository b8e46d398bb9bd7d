//! Where settings come from: the TOML file, `NEXTPANEL_BILL_*` environment variables (and
//! `NEXTPANEL_BILL_<KEY>_FILE` secret files), and command-line flags, merged with figment in
//! that order of precedence (flags win), each value remembering its source for
//! `nextpanel-bill config`.
//!
//! Every source is checked against the settings [`Layer`] knows before merging, so an
//! unknown key is refused with its name and where it was written; values are typed by
//! figment's lossy extraction (environment values are text: `"30"` becomes a number where a
//! number is wanted and stays text where text is wanted).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};

use super::{ConfigError, Layer};

/// Prefix of the environment variables that set settings.
pub const ENV_PREFIX: &str = "NEXTPANEL_BILL_";

/// `NEXTPANEL_BILL_*` variables that are not settings: the CLI's own (where to find the
/// file, the API client's URL and token, passwords it would otherwise prompt for).
const NOT_SETTINGS: &[&str] = &[
    "CONFIG",
    "URL",
    "TOKEN",
    "NEW_ADMIN_PASSWORD",
    "CUSTOMER_PASSWORD",
    "HOSTING_PASSWORD",
];

/// Environment names from before every setting had one (they matched the flags).
const ALIASES: &[(&str, &str)] = &[
    ("health_interval", "health_interval_secs"),
    ("reconcile_interval", "reconcile_interval_secs"),
    ("usage_poll_interval", "usage_poll_interval_secs"),
    ("billing_interval", "billing_interval_secs"),
];

/// The merged settings and, per key set anywhere, where its value came from.
#[derive(Debug)]
pub struct Loaded {
    /// Every setting given, before validation.
    pub layer: Layer,
    /// Setting name → its source ("file /etc/...", "environment NEXTPANEL_BILL_LISTEN", ...).
    pub sources: BTreeMap<String, String>,
}

/// One source of settings: a flat dictionary and its name.
struct Source {
    name: String,
    values: Dict,
}

impl Provider for Source {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.name.clone())
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.values.clone()))
    }
}

/// The names of every setting (the keys of [`Layer`]).
pub fn setting_names() -> BTreeSet<String> {
    match serde_json::to_value(Layer::default()) {
        Ok(serde_json::Value::Object(map)) => map.into_iter().map(|(k, _)| k).collect(),
        _ => BTreeSet::new(),
    }
}

/// Reads the settings from `file` (if any), the given environment and `flags`.
pub fn load(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
    flags: &Layer,
) -> Result<Loaded, ConfigError> {
    let known = setting_names();
    let mut sources = Vec::new();
    if let Some(path) = file {
        sources.push(file_source(path)?);
    }
    sources.extend(env_sources(env, &known)?);
    sources.push(flag_source(flags)?);
    let mut figment = Figment::new();
    for source in sources {
        if let Some(key) = source.values.keys().find(|k| !known.contains(*k)) {
            return Err(ConfigError::Unknown {
                key: key.clone(),
                origin: source.name,
            });
        }
        figment = figment.merge(source);
    }
    let layer: Layer = figment.extract_lossy().map_err(|e| value_error(&e))?;
    let sources = known
        .iter()
        .filter_map(|key| {
            figment
                .find_metadata(key)
                .map(|m| (key.clone(), m.name.to_string()))
        })
        .collect();
    Ok(Loaded { layer, sources })
}

/// [`load`] with this process's environment.
pub fn load_from_process(file: Option<&Path>, flags: &Layer) -> Result<Loaded, ConfigError> {
    load(file, std::env::vars(), flags)
}

fn value_error(e: &figment::Error) -> ConfigError {
    ConfigError::Value {
        key: e.path.last().cloned().unwrap_or_else(|| "?".to_owned()),
        origin: e
            .metadata
            .as_ref()
            .map_or_else(|| "the configuration".to_owned(), |m| m.name.to_string()),
        message: e.kind.to_string(),
    }
}

/// The TOML file, with tables flattened: `[smtp] host = ...` is `smtp_host`.
fn file_source(path: &Path) -> Result<Source, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    let mut values = Dict::new();
    flatten(String::new(), table, &mut values).map_err(|message| ConfigError::Parse {
        path: path.display().to_string(),
        message,
    })?;
    Ok(Source {
        name: format!("file {}", path.display()),
        values,
    })
}

fn flatten(prefix: String, table: toml::Table, out: &mut Dict) -> Result<(), String> {
    for (key, value) in table {
        let key = format!("{prefix}{key}");
        match value {
            toml::Value::Table(inner) => flatten(format!("{key}_"), inner, out)?,
            leaf => {
                let value = Value::serialize(&leaf).map_err(|e| format!("{key}: {e}"))?;
                out.insert(key, value);
            }
        }
    }
    Ok(())
}

/// One source per variable, so `config` can name the exact variable a value came from.
fn env_sources(
    env: impl IntoIterator<Item = (String, String)>,
    known: &BTreeSet<String>,
) -> Result<Vec<Source>, ConfigError> {
    let mut generic_url = None;
    let mut named = BTreeMap::new();
    for (name, value) in env {
        if value.is_empty() {
            continue;
        }
        if name == "DATABASE_URL" {
            generic_url = Some(value);
            continue;
        }
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        if NOT_SETTINGS.contains(&rest) {
            continue;
        }
        // `__` separates nested keys (SMTP__HOST); settings are flat, so it joins like `_`.
        let key = rest.to_ascii_lowercase().replace("__", "_");
        let key = ALIASES
            .iter()
            .find(|(old, _)| *old == key)
            .map_or(key, |(_, new)| (*new).to_owned());
        named.insert(name, (key, value));
    }
    let mut sources = Vec::new();
    // The generic DATABASE_URL yields to NEXTPANEL_BILL_DATABASE_URL.
    if let Some(url) = generic_url {
        sources.push(Source {
            name: "environment DATABASE_URL".to_owned(),
            values: Dict::from([("database_url".to_owned(), Value::from(url))]),
        });
    }
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for (name, (key, raw)) in named {
        let secret_file = key
            .strip_suffix("_file")
            .filter(|base| !known.contains(&key) && known.contains(*base));
        let (key, value, source) = match secret_file {
            Some(base) => {
                let text = std::fs::read_to_string(&raw).map_err(|e| ConfigError::Value {
                    key: base.to_owned(),
                    origin: format!("environment {name}"),
                    message: format!("cannot read {raw}: {e}"),
                })?;
                // Secret files usually end with a newline that is not part of the secret.
                let text = text.trim_end_matches(['\n', '\r']).to_owned();
                (
                    base.to_owned(),
                    Value::from(text),
                    format!("file {raw} (from {name})"),
                )
            }
            None => (key, env_value(&raw), format!("environment {name}")),
        };
        if let Some(first) = seen.insert(key.clone(), name.clone()) {
            return Err(ConfigError::Value {
                key,
                origin: format!("environment {name}"),
                message: format!("is also set by {first}; set it once"),
            });
        }
        sources.push(Source {
            name: source,
            values: Dict::from([(key, value)]),
        });
    }
    Ok(sources)
}

/// Text, except a `[...]` list (for list settings such as `autopay_retry_days`).
fn env_value(raw: &str) -> Value {
    if raw.trim_start().starts_with('[') {
        if let Ok(mut table) = toml::from_str::<toml::Table>(&format!("v = {raw}")) {
            if let Some(Ok(value)) = table.remove("v").map(Value::serialize) {
                return value;
            }
        }
    }
    Value::from(raw.to_owned())
}

fn flag_source(flags: &Layer) -> Result<Source, ConfigError> {
    let json = serde_json::to_value(flags).map_err(|e| ConfigError::Value {
        key: "?".to_owned(),
        origin: "command-line flags".to_owned(),
        message: e.to_string(),
    })?;
    let mut values = Dict::new();
    if let serde_json::Value::Object(map) = json {
        for (key, value) in map.into_iter().filter(|(_, v)| !v.is_null()) {
            let value = Value::serialize(&value).map_err(|e| ConfigError::Value {
                key: key.clone(),
                origin: "command-line flags".to_owned(),
                message: e.to_string(),
            })?;
            values.insert(key, value);
        }
    }
    Ok(Source {
        name: "command-line flag".to_owned(),
        values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn flags_beat_environment_beat_file() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "listen = \"0.0.0.0:1\"\nworkers = 2\ncompany_name = \"File Co\"\n[smtp]\nhost = \"file.example\"\nport = 25\n",
        )?;
        let flags = Layer {
            listen: Some("127.0.0.1:9000".into()),
            ..Layer::default()
        };
        let loaded = load(
            Some(&file),
            env(&[
                ("NEXTPANEL_BILL_LISTEN", "127.0.0.1:7000"),
                ("NEXTPANEL_BILL_WORKERS", "6"),
                ("NEXTPANEL_BILL_SMTP__HOST", "env.example"),
                ("NEXTPANEL_BILL_URL", "http://not-a-setting"),
                ("OTHER", "x"),
            ]),
            &flags,
        )?;
        let l = &loaded.layer;
        assert_eq!(l.listen.as_deref(), Some("127.0.0.1:9000"));
        assert_eq!(l.workers, Some(6));
        assert_eq!(l.smtp_host.as_deref(), Some("env.example"));
        assert_eq!(l.smtp_port, Some(25));
        assert_eq!(l.company_name.as_deref(), Some("File Co"));
        let src = |k: &str| loaded.sources.get(k).cloned().unwrap_or_default();
        assert_eq!(src("listen"), "command-line flag");
        assert_eq!(src("workers"), "environment NEXTPANEL_BILL_WORKERS");
        assert_eq!(src("smtp_host"), "environment NEXTPANEL_BILL_SMTP__HOST");
        assert!(src("smtp_port").starts_with("file "));
        assert!(!loaded.sources.contains_key("public_url"));
        Ok(())
    }

    #[test]
    fn environment_text_takes_the_setting_type() -> Result<(), ConfigError> {
        let loaded = load(
            None,
            env(&[
                ("NEXTPANEL_BILL_SMTP_PASSWORD", "123456"),
                ("NEXTPANEL_BILL_ALLOW_REGISTRATION", "false"),
                ("NEXTPANEL_BILL_AUTOPAY_RETRY_DAYS", "[0, 2, 9]"),
                ("NEXTPANEL_BILL_HEALTH_INTERVAL", "0"),
                ("NEXTPANEL_BILL_COMPANY_NAME", ""),
                ("DATABASE_URL", "postgres://generic@db/x"),
            ]),
            &Layer::default(),
        )?;
        let l = loaded.layer;
        assert_eq!(l.smtp_password.as_deref(), Some("123456"));
        assert_eq!(l.allow_registration, Some(false));
        assert_eq!(l.autopay_retry_days, Some(vec![0, 2, 9]));
        assert_eq!(l.health_interval_secs, Some(0));
        assert_eq!(l.company_name, None);
        assert_eq!(l.database_url.as_deref(), Some("postgres://generic@db/x"));
        let ours = load(
            None,
            env(&[
                ("DATABASE_URL", "postgres://generic@db/x"),
                ("NEXTPANEL_BILL_DATABASE_URL", "sqlite://ours.db"),
            ]),
            &Layer::default(),
        )?;
        assert_eq!(ours.layer.database_url.as_deref(), Some("sqlite://ours.db"));
        Ok(())
    }

    #[test]
    fn secrets_come_from_files() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let secret = dir.path().join("smtp_password");
        std::fs::write(&secret, "s3cret-from-file\n")?;
        let loaded = load(
            None,
            env(&[
                (
                    "NEXTPANEL_BILL_SMTP_PASSWORD_FILE",
                    secret.to_str().unwrap_or_default(),
                ),
                ("NEXTPANEL_BILL_MASTER_KEY_FILE", "/var/lib/x/key"),
            ]),
            &Layer::default(),
        )?;
        assert_eq!(
            loaded.layer.smtp_password.as_deref(),
            Some("s3cret-from-file")
        );
        // master_key_file is a setting of its own (the key file path), not a secret file.
        assert_eq!(
            loaded.layer.master_key_file.as_deref(),
            Some("/var/lib/x/key")
        );
        assert!(loaded.sources["smtp_password"].contains("NEXTPANEL_BILL_SMTP_PASSWORD_FILE"));
        let missing = load(
            None,
            env(&[("NEXTPANEL_BILL_STRIPE_SECRET_KEY_FILE", "/nonexistent/x")]),
            &Layer::default(),
        );
        assert!(
            matches!(&missing, Err(ConfigError::Value { key, .. }) if key == "stripe_secret_key"),
            "{missing:?}"
        );
        let twice = load(
            None,
            env(&[
                ("NEXTPANEL_BILL_SMTP_PASSWORD", "a"),
                (
                    "NEXTPANEL_BILL_SMTP_PASSWORD_FILE",
                    secret.to_str().unwrap_or_default(),
                ),
            ]),
            &Layer::default(),
        );
        assert!(matches!(twice, Err(ConfigError::Value { .. })));
        Ok(())
    }

    #[test]
    fn the_replica_url_comes_from_its_variable_or_a_secret_file(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let loaded = load(
            None,
            env(&[(
                "NEXTPANEL_BILL_DATABASE_REPLICA_URL",
                "postgres://bill@standby/bill",
            )]),
            &Layer::default(),
        )?;
        assert_eq!(
            loaded.layer.database_replica_url.as_deref(),
            Some("postgres://bill@standby/bill")
        );
        let dir = tempfile::tempdir()?;
        let secret = dir.path().join("replica_url");
        std::fs::write(&secret, "postgres://bill:s3cret@standby/bill\n")?;
        let loaded = load(
            None,
            env(&[
                ("DATABASE_URL", "postgres://bill@primary/bill"),
                (
                    "NEXTPANEL_BILL_DATABASE_REPLICA_URL_FILE",
                    secret.to_str().unwrap_or_default(),
                ),
            ]),
            &Layer::default(),
        )?;
        assert_eq!(
            loaded.layer.database_replica_url.as_deref(),
            Some("postgres://bill:s3cret@standby/bill")
        );
        let settings = super::super::Settings::from_layer(loaded.layer)?;
        let shown = settings.describe(&loaded.sources);
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(
            shown.contains("NEXTPANEL_BILL_DATABASE_REPLICA_URL_FILE"),
            "{shown}"
        );
        Ok(())
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_setting_and_source(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let err = load(
            None,
            env(&[("NEXTPANEL_BILL_SMTP_HOTS", "x")]),
            &Layer::default(),
        );
        let Err(e) = err else {
            return Err("an unknown variable was taken".into());
        };
        let text = e.to_string();
        assert!(
            text.contains("smtp_hots") && text.contains("NEXTPANEL_BILL_SMTP_HOTS"),
            "{text}"
        );
        let err = load(
            None,
            env(&[("NEXTPANEL_BILL_SMTP_PORT", "twenty-five")]),
            &Layer::default(),
        );
        let Err(e) = err else {
            return Err("a bad port was taken".into());
        };
        let text = e.to_string();
        assert!(
            text.contains("smtp_port") && text.contains("NEXTPANEL_BILL_SMTP_PORT"),
            "{text}"
        );
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "lisen = \"x\"\n")?;
        let err = load(Some(&file), Vec::new(), &Layer::default());
        assert!(
            matches!(&err, Err(ConfigError::Unknown { key, origin }) if key == "lisen" && origin.contains("c.toml")),
            "{err:?}"
        );
        Ok(())
    }
}
