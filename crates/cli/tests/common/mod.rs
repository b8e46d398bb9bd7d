//! What the binary's test files share: a child process that is killed and reaped when
//! dropped, and a free loopback port.

#![allow(dead_code, clippy::unwrap_used)]

use std::process::Child;

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
