//! Browser tests of the web UI: scripts in `tests/browser/` drive Debian chromium through
//! playwright-core against a running test app (see `tests/browser/lib.mjs`).
//!
//! Outside CI they are skipped when node, the npm packages or chromium are missing; with
//! `CI=true` a missing piece fails the test instead.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::TestApp;

/// The browser scripts and their `node_modules`.
const BROWSER_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser");
/// Where failing scripts leave their screenshots (kept after the test ends).
const SCREENSHOT_DIR: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/browser");
/// How long one script may run before it is killed.
const TIMEOUT: Duration = Duration::from_secs(120);

/// The chromium the scripts launch: `CHROMIUM_PATH`, else Debian's.
fn chromium_path() -> PathBuf {
    std::env::var_os("CHROMIUM_PATH")
        .filter(|p| !p.is_empty())
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// What the browser tests need and is missing, with how to get it.
fn missing() -> Vec<String> {
    let mut missing = Vec::new();
    let node_runs = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !node_runs {
        missing.push(
            "node 20+ is not runnable from PATH (.ci/run expects it on the machine)".to_owned(),
        );
    }
    if !Path::new(BROWSER_DIR)
        .join("node_modules/playwright-core")
        .is_dir()
    {
        missing.push(format!(
            "playwright-core is missing from {BROWSER_DIR}/node_modules \
             (`npm ci --prefix crates/billing/tests/browser`, as .ci/run and scripts/test.sh do)"
        ));
    }
    let chromium = chromium_path();
    if !chromium.is_file() {
        missing.push(format!(
            "chromium is missing at {} (`apt-get install chromium`, as .ci/run does, \
             or set CHROMIUM_PATH)",
            chromium.display()
        ));
    }
    missing
}

/// Runs `node <script>` in `tests/browser` with `env` (e.g. `BASE_URL`) and returns its
/// stdout. Panics with the script's whole output when it exits non-zero or runs longer
/// than two minutes. Returns `None` (after printing why) when node, playwright-core or
/// chromium is missing outside CI; in CI (`CI=true`) that panics instead.
///
/// Blocking: call it from async tests through `run_script_async` or `spawn_blocking`, so
/// the test app keeps serving while the browser talks to it.
pub fn run_script(script: &str, env: &[(&str, String)]) -> Option<String> {
    let missing = missing();
    if !missing.is_empty() {
        let what = missing.join("; ");
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("browser test {script} cannot run with CI=true: {what}");
        }
        eprintln!("skipped: browser test {script}: {what}");
        return None;
    }

    std::fs::create_dir_all(SCREENSHOT_DIR)
        .unwrap_or_else(|e| panic!("cannot create the screenshot dir {SCREENSHOT_DIR}: {e}"));
    // The output goes to files: no pipe to drain while waiting, nothing lost on a kill.
    let out_dir = tempfile::tempdir().expect("a temp dir for the browser script's output");
    let stdout_path = out_dir.path().join("stdout");
    let stderr_path = out_dir.path().join("stderr");
    let stdout = std::fs::File::create(&stdout_path).expect("create the script's stdout file");
    let stderr = std::fs::File::create(&stderr_path).expect("create the script's stderr file");

    let mut child = Command::new("node")
        .arg(script)
        .current_dir(BROWSER_DIR)
        .env("SCREENSHOT_DIR", SCREENSHOT_DIR)
        .env("FORCE_COLOR", "0")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start node {script}: {e}"));

    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => panic!("waiting for node {script}: {e}"),
        }
    };
    let read = |path: &Path| std::fs::read_to_string(path).unwrap_or_else(|e| format!("({e})"));
    let (stdout, stderr) = (read(&stdout_path), read(&stderr_path));
    match status {
        None => panic!(
            "browser test {script} timed out after {}s and was killed\n\
             --- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
            TIMEOUT.as_secs()
        ),
        Some(status) if !status.success() => panic!(
            "browser test {script} failed ({status})\n\
             --- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
        ),
        Some(_) => Some(stdout),
    }
}

/// `run_script` on the blocking pool, for async tests; its panics come through unchanged.
pub async fn run_script_async(
    script: &'static str,
    env: Vec<(&'static str, String)>,
) -> Option<String> {
    tokio::task::spawn_blocking(move || run_script(script, &env))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

#[tokio::test]
async fn the_web_ui_serves_its_login_page() {
    let app = TestApp::spawn().await;
    // `url("")` is the bare origin, `http://127.0.0.1:PORT`: no trailing slash.
    run_script_async("smoke.mjs", vec![("BASE_URL", app.url(""))]).await;
}
