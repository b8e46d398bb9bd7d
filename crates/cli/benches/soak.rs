//! Memory under a long mixed load: the release `serve` answers license validations
//! (signed version 2), `GET /api/v1/auth/me` and `GET /api/v1/plans`, with the number
//! of connections changing every `BENCH_SOAK_PHASE_SECS` (default 30) through 1, 16 and
//! 64. After `BENCH_SOAK_WARMUP_SECS` (default 300) of warm-up, `BENCH_SOAK_SECS`
//! (default 1,200) more; resident memory and private anonymous memory are sampled
//! every 10 s. Target: the measured part grows resident memory by less than 5 %.
//!
//! SQLite always; PostgreSQL too when DATABASE_URL points to one (`BENCH_ENGINE` picks
//! one). Loopback only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use common::{client, env_u64, on_each_engine, start_server, validation_setup, Api};

/// Resident and private anonymous memory of `pid`, in MB.
fn memory_mb(pid: u32) -> (f64, f64) {
    let field = |text: &str, name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    (field(&status, "VmRSS:"), field(&rollup, "Anonymous:"))
}

fn threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |d| d.count())
}

async fn bench_engine(name: &str, dir: std::path::PathBuf, database_url: String) {
    let warmup = env_u64("BENCH_SOAK_WARMUP_SECS", 300);
    let measured = env_u64("BENCH_SOAK_SECS", 1_200);
    let phase = env_u64("BENCH_SOAK_PHASE_SECS", 30).max(1);
    std::fs::write(
        dir.join("nextpanel-bill.toml"),
        "license_callbacks_per_minute = 4000000000\n",
    )
    .unwrap();
    let extra = ["--health-interval", "0", "--billing-interval", "0"];
    let server = start_server(&dir, &database_url, &extra).await;
    let pid = server.child.id();
    let api = Api::login(&server.base, 64).await;
    let (_sim, caller) = validation_setup(&api, &server.base).await;
    let started = memory_mb(pid);

    // 64 load tasks; only the first `active` of them send, so the connection count
    // moves through 1, 16 and 64 without new connections being opened each phase.
    let active = Arc::new(AtomicUsize::new(1));
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let http = client(64);
    let mut tasks = Vec::new();
    for n in 0..64usize {
        let (active, stop, done, caller, http, api) = (
            active.clone(),
            stop.clone(),
            done.clone(),
            caller.clone(),
            http.clone(),
            api.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut turn = n;
            while !stop.load(Ordering::Relaxed) {
                if n >= active.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                match turn % 3 {
                    0 => caller.validate().await,
                    1 => {
                        let resp = http
                            .get(format!("{}/api/v1/auth/me", api.base))
                            .bearer_auth(&api.token)
                            .send()
                            .await
                            .unwrap();
                        assert!(resp.status().is_success(), "/auth/me: {}", resp.status());
                        resp.bytes().await.unwrap();
                    }
                    _ => {
                        let resp = http
                            .get(format!("{}/api/v1/plans", api.base))
                            .send()
                            .await
                            .unwrap();
                        assert!(resp.status().is_success(), "/plans: {}", resp.status());
                        resp.bytes().await.unwrap();
                    }
                }
                turn += 1;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }

    println!("\n{name}: {warmup} s warm-up, then {measured} s measured; memory every 10 s");
    let begin = Instant::now();
    let mut samples: Vec<(u64, f64, f64)> = Vec::new();
    let mut at_warmup = None;
    let mut last_count = 0;
    loop {
        tokio::time::sleep(Duration::from_secs(10)).await;
        let t = begin.elapsed().as_secs();
        let connections = [1, 16, 64][((t / phase) % 3) as usize];
        active.store(connections, Ordering::Relaxed);
        let (rss, anon) = memory_mb(pid);
        let count = done.load(Ordering::Relaxed);
        println!(
            "  {t:>5} s  {connections:>2} connections  {:>6.0} req/s  RSS {rss:6.1} MB  anon {anon:6.1} MB  {} threads",
            (count - last_count) as f64 / 10.0,
            threads(pid)
        );
        last_count = count;
        if t >= warmup && at_warmup.is_none() {
            at_warmup = Some((rss, anon));
        }
        if at_warmup.is_some() {
            samples.push((t, rss, anon));
        }
        if t >= warmup + measured {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let (w_rss, w_anon) = at_warmup.unwrap();
    let (_, end_rss, end_anon) = *samples.last().unwrap();
    let peak = samples.iter().map(|s| s.1).fold(0.0, f64::max);
    let growth = 100.0 * (end_rss - w_rss) / w_rss;
    println!(
        "{name}: {} requests; RSS {:.1} MB at start, {w_rss:.1} MB after warm-up, {end_rss:.1} MB at the end (peak {peak:.1} MB): {growth:+.1} % over {measured} s (target < 5 %): {}",
        done.load(Ordering::Relaxed),
        started.0,
        if growth < 5.0 { "ok" } else { "MISSED" }
    );
    println!(
        "{name}: private anonymous memory {w_anon:.1} MB after warm-up, {end_anon:.1} MB at the end ({:+.1} %)",
        100.0 * (end_anon - w_anon) / w_anon.max(0.1)
    );
    drop(server);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    on_each_engine("bench_soak", bench_engine).await;
}
