//! Invoices and credit notes as PDF (text read back with pdftotext) and HTML, on the
//! API and attached to the emails.

use std::process::Command;

use billing::config::Layer;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{SmtpSink, TestApp};

/// The text of a PDF, laid out as on the page; `None` (skipped) outside CI without pdftotext.
fn pdf_text(bytes: &[u8]) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doc.pdf");
    std::fs::write(&path, bytes).unwrap();
    match Command::new("pdftotext")
        .arg("-layout")
        .arg(&path)
        .arg("-")
        .output()
    {
        Ok(out) => {
            assert!(
                out.status.success(),
                "pdftotext: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            Some(String::from_utf8(out.stdout).unwrap())
        }
        Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("pdftotext is not runnable ({e}); PDF text not checked (apt-get install poppler-utils)");
            None
        }
        Err(e) => panic!("pdftotext is needed in CI (poppler-utils): {e}"),
    }
}

async fn fetch(app: &TestApp, path: &str, token: &str) -> (StatusCode, String, Vec<u8>) {
    let resp = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let kind = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, kind, resp.bytes().await.unwrap().to_vec())
}

struct Setup {
    app: TestApp,
    admin: String,
    plan: i64,
    sink: SmtpSink,
}

async fn setup() -> Setup {
    let sink = SmtpSink::start();
    let app = TestApp::spawn_with(Layer {
        company_address: Some("Hauptstraße 1\n10115 Berlin".into()),
        company_country: Some("DE".into()),
        company_tax_id: Some("DE123456789".into()),
        accept_orders_when_full: Some(true),
        ..sink.layer()
    })
    .await;
    let admin = app.admin_token().await;
    let plan = app.plan(&admin, "Starter").await;
    let (status, _) = app
        .post(
            "/api/v1/tax-rates",
            Some(&admin),
            json!({"name": "VAT", "rate_bp": 1900, "country": "DE", "valid_from": "2020-01-01"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    Setup {
        app,
        admin,
        plan,
        sink,
    }
}

async fn customer(s: &Setup, email: &str, name: &str, billing: Value) -> (i64, String) {
    let (status, body) = s
        .app
        .post(
            "/api/v1/customers",
            Some(&s.admin),
            json!({"email": email, "full_name": name, "password": "customer-password-1", "billing": billing}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (
        body["id"].as_i64().unwrap(),
        s.app.login(email, "customer-password-1").await,
    )
}

async fn order(s: &Setup, customer: i64, username: &str) -> Value {
    let (status, invoice) = s
        .app
        .post(
            &format!("/api/v1/customers/{customer}/orders"),
            Some(&s.admin),
            json!({"plan_id": s.plan, "username": username, "billing_cycle": "monthly"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{invoice}");
    invoice
}

/// The PDF attached to the message with `subject_part`, once it arrived.
async fn attachment(sink: &SmtpSink, subject_part: &str) -> (Value, Vec<u8>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Some(m) = sink.messages().into_iter().find(|m| {
            m["subject"]
                .as_str()
                .is_some_and(|s| s.contains(subject_part))
        }) {
            let a = m["attachments"][0].clone();
            let bytes = std::fs::read(a["path"].as_str().expect("a PDF attached")).unwrap();
            return (a, bytes);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no message about {subject_part}: {:?}",
            sink.messages()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn invoices_are_pdfs_an_accountant_can_file_and_go_with_the_emails() {
    let s = setup().await;
    let (ada, ada_token) = customer(
        &s,
        "ada@example.com",
        "Zoë <Müller>",
        json!({"address": "Unter den Linden 1\nBerlin", "postal_code": "10117", "country": "DE", "tax_id": "DE987654321"}),
    )
    .await;
    let (_, other_token) = customer(&s, "bob@example.com", "Bob", json!({})).await;
    let invoice = order(&s, ada, "ada1").await;
    let id = invoice["id"].as_i64().unwrap();
    let number = invoice["number"].as_str().unwrap().to_owned();

    // The "invoice created" email carries the PDF.
    let (meta, emailed) = attachment(&s.sink, &number).await;
    assert_eq!(meta["content_type"], "application/pdf");
    assert_eq!(meta["filename"], format!("{number}.pdf"));
    if let Some(text) = pdf_text(&emailed) {
        assert!(text.contains("INVOICE") && text.contains(&number), "{text}");
        assert!(text.contains("Open: please pay 11.89 USD"), "{text}");
    }

    // Paid by transfer: the customer downloads it; the same invoice gives the same bytes.
    let (status, paid) = s
        .app
        .post(
            &format!("/api/v1/invoices/{id}/mark-paid"),
            Some(&s.admin),
            json!({"reference": "SEPA 4411"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{paid}");
    let (status, kind, pdf) =
        fetch(&s.app, &format!("/api/v1/me/invoices/{id}/pdf"), &ada_token).await;
    assert_eq!((status, kind.as_str()), (StatusCode::OK, "application/pdf"));
    assert!(pdf.starts_with(b"%PDF-"));
    let (_, _, again) = fetch(&s.app, &format!("/api/v1/invoices/{id}/pdf"), &s.admin).await;
    assert_eq!(pdf, again, "stable bytes for the same invoice");
    if let Some(text) = pdf_text(&pdf) {
        for expected in [
            "INVOICE",
            number.as_str(),
            "Acme Hosting",
            "Hauptstraße 1",
            "Tax id DE123456789",
            "help@acme.example",
            "Bill to",
            "Zoë <Müller>",
            "Unter den Linden 1",
            "10117",
            "Tax id DE987654321",
            "Starter hosting, monthly",
            "VAT 19%",
            "9.99 USD",
            "1.90 USD",
            "11.89 USD",
            "Paid on",
        ] {
            assert!(
                text.contains(expected),
                "{expected:?} missing from:\n{text}"
            );
        }
    }
    let (_, paid_mail) = attachment(&s.sink, "Payment received").await;
    if let Some(text) = pdf_text(&paid_mail) {
        assert!(text.contains("Paid on"), "{text}");
    }
    // Nobody else's: another customer gets a 404, not the document.
    let (status, _, _) = fetch(
        &s.app,
        &format!("/api/v1/me/invoices/{id}/pdf"),
        &other_token,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The HTML view says the same, escaped.
    let (status, kind, html) = fetch(
        &s.app,
        &format!("/api/v1/me/invoices/{id}/html"),
        &ada_token,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(kind.starts_with("text/html"));
    let html = String::from_utf8(html).unwrap();
    assert!(
        html.contains("Zoë &lt;Müller&gt;") && !html.contains("<Müller>"),
        "{html}"
    );
    assert!(html.contains(&number) && html.contains("11.89 USD") && html.contains("VAT 19%"));

    // A refund's credit note is a document too, naming the invoice it corrects.
    let payment = paid["payments"][0]["id"].as_i64().unwrap();
    let (status, refund) = s
        .app
        .post(
            &format!("/api/v1/payments/{payment}/refund"),
            Some(&s.admin),
            json!({"amount": 595, "reason": "outage"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{refund}");
    let note = refund["credit_note"]["id"].as_i64().unwrap();
    let (status, _, cn) = fetch(
        &s.app,
        &format!("/api/v1/me/credit-notes/{note}/pdf"),
        &ada_token,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = fetch(
        &s.app,
        &format!("/api/v1/me/credit-notes/{note}/pdf"),
        &other_token,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    if let Some(text) = pdf_text(&cn) {
        for expected in [
            "CREDIT NOTE",
            refund["credit_note"]["number"].as_str().unwrap(),
            "Corrects invoice",
            number.as_str(),
            "outage",
            "0.95 USD",
            "5.95 USD",
        ] {
            assert!(
                text.contains(expected),
                "{expected:?} missing from:\n{text}"
            );
        }
    }
    // The invoice now mentions its credit note.
    let (_, _, after) = fetch(&s.app, &format!("/api/v1/invoices/{id}/pdf"), &s.admin).await;
    if let Some(text) = pdf_text(&after) {
        assert!(
            text.contains(refund["credit_note"]["number"].as_str().unwrap()),
            "{text}"
        );
    }
}

#[tokio::test]
async fn a_reverse_charge_invoice_says_so_on_paper() {
    let s = setup().await;
    let (fr, token) = customer(
        &s,
        "fr@example.com",
        "Jean",
        json!({"country": "FR", "tax_id": "FRXX123456789"}),
    )
    .await;
    let invoice = order(&s, fr, "jean1").await;
    let (status, _, pdf) = fetch(
        &s.app,
        &format!("/api/v1/me/invoices/{}/pdf", invoice["id"]),
        &token,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    if let Some(text) = pdf_text(&pdf) {
        assert!(
            text.contains("Reverse charge: VAT to be accounted for by the recipient"),
            "{text}"
        );
        assert!(
            text.contains("VAT (reverse charge)") && text.contains("Tax id FRXX123456789"),
            "{text}"
        );
        assert!(!text.contains("VAT 19%"), "{text}");
    }
}
