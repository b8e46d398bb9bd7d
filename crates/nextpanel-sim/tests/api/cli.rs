//! The `nextpanel-sim` binary: flags in, printed address and secrets out.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// Kills the child we started when the test ends, pass or fail.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary and reads its stdout up to the generated control token.
fn start(args: &[&str]) -> (Running, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nextpanel-sim"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let done = line.starts_with("control token:");
        lines.push(line);
        if done {
            break;
        }
    }
    (running, lines)
}

fn field<'a>(lines: &'a [String], prefix: &str) -> &'a str {
    lines
        .iter()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap()
        .trim()
}

#[tokio::test]
async fn binary_prints_generated_credentials_and_serves_them() {
    let (_child, lines) = start(&["--listen", "127.0.0.1:0", "--baseline"]);
    let url = field(&lines, "nextpanel-sim listening on ");
    let key = field(&lines, "API key:");
    let secret = field(&lines, "API secret:");
    let token = field(&lines, "control token:");
    assert_eq!(key.len(), 4 + 43);
    assert_eq!(secret.len(), 4 + 64);

    let client = crate::helpers::client();
    let health: Value = client
        .get(format!("{url}/api/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(health.get("extensions").is_none(), "--baseline ignored");
    let response = client
        .get(format!("{url}/api/v1/billing/accounts"))
        .header("X-API-Key", key)
        .header("X-API-Secret", secret)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = client
        .get(format!("{url}/_sim/faults"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[test]
fn help_explains_the_flags() {
    let output = Command::new(env!("CARGO_BIN_EXE_nextpanel-sim"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for flag in [
        "--listen",
        "--api-key",
        "--credential",
        "--control-token",
        "--baseline",
        "--state",
        "--billing-url",
        "--error-rate",
        "--lost-response",
        "/_sim/faults",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
}
