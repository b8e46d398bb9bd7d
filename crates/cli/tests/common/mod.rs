//! What the binary's test files share: a child process that is killed and reaped when
//! dropped, a free loopback port, a fresh PostgreSQL database, and the old (seed) system's
//! database as a fixture ([`seed_db`]).

#![allow(dead_code, clippy::unwrap_used)]

pub mod seed_db;

use std::process::Child;
use std::sync::atomic::{AtomicU64, Ordering};

/// A child process, killed and reaped on drop so a failed assertion leaves none behind.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Databases created by this process so far, so two made in the same nanosecond differ.
static FRESH_PG_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh PostgreSQL database, dropped (WITH (FORCE)) when the guard goes.
pub struct FreshPg {
    pub admin_url: String,
    pub name: String,
    pub url: String,
}

impl FreshPg {
    /// Creates a database with a name unique to this process and call, next to the one
    /// `admin_url` names.
    pub async fn create(admin_url: &str) -> FreshPg {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let n = FRESH_PG_COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("test_proc_{}_{nanos}_{n}", std::process::id());
        let admin = sqlx::PgPool::connect(admin_url).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
        let (prefix, _) = admin_url.rsplit_once('/').unwrap();
        FreshPg {
            admin_url: admin_url.to_owned(),
            url: format!("{prefix}/{name}"),
            name,
        }
    }
}

impl Drop for FreshPg {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime: use a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(admin) = sqlx::PgPool::connect(&url).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&admin)
                        .await;
                    admin.close().await;
                }
            });
        })
        .join();
    }
}
