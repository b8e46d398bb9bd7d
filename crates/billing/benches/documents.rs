//! Invoices rendered to PDF: `BENCH_DOCUMENTS` (default 10,000) invoices with one to
//! three lines, tax and Latin-1 names, rendered one after another on one core. Prints
//! documents per second, the average size, and the process's peak resident memory
//! before and after (the renderer keeps nothing between documents).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use billing::documents::{pdf, Document, DocumentLine, Party};

/// A `/proc/self/status` figure in KiB (Linux); 0 elsewhere.
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn invoice(n: usize) -> Document {
    let lines = 1 + n % 3;
    Document {
        title: "INVOICE".into(),
        number: format!("INV-2026-{n:06}"),
        facts: vec![
            ("Date".into(), "2026-12-02".into()),
            ("Due".into(), "2026-12-09".into()),
        ],
        seller: Party {
            name: "Acme Hosting GmbH".into(),
            address: vec!["Hauptstraße 1".into(), "10115 Berlin".into(), "DE".into()],
            tax_id: Some("DE123456789".into()),
            contact: Some("help@acme.example".into()),
        },
        buyer: Party {
            name: format!("Zoë Müller {n}"),
            address: vec![
                "Analytical Ltd".into(),
                "Unter den Linden 1".into(),
                "10117 Berlin".into(),
            ],
            tax_id: (n % 2 == 0).then(|| "DE987654321".into()),
            contact: None,
        },
        lines: (0..lines)
            .map(|i| DocumentLine {
                description: format!(
                    "Starter hosting, monthly (2026-12-{:02} to 2027-01-{:02})",
                    1 + i,
                    1 + i
                ),
                quantity: "1".into(),
                unit: "9.99 USD".into(),
                tax: "VAT 19%".into(),
                amount: "9.99 USD".into(),
            })
            .collect(),
        totals: vec![
            ("Net".into(), "9.99 USD".into()),
            ("VAT 19%".into(), "1.90 USD".into()),
            ("Total".into(), "11.89 USD".into()),
        ],
        status: "Paid on 2026-12-02".into(),
        notes: vec![],
    }
}

fn main() {
    let count: usize = std::env::var("BENCH_DOCUMENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let docs: Vec<Document> = (0..count).map(invoice).collect();
    let rss_before = status_kib("VmRSS:");
    let peak_before = status_kib("VmHWM:");
    let started = Instant::now();
    let mut bytes = 0usize;
    for d in &docs {
        let out = pdf::render(d);
        assert!(out.starts_with(b"%PDF-"));
        bytes += out.len();
    }
    let secs = started.elapsed().as_secs_f64();
    println!("documents: {count} invoices rendered to PDF in {secs:.2} s");
    println!("  {:.0} PDFs per second on one core", count as f64 / secs);
    println!(
        "  average size {:.1} KiB",
        bytes as f64 / count as f64 / 1024.0
    );
    println!(
        "  resident memory {rss_before} KiB before, peak {peak_before} KiB before and {} KiB after",
        status_kib("VmHWM:")
    );
}
