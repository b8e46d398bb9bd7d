//! Message templates: a subject and a plain-text part (`NAME.txt`, whose first line is
//! `Subject: ...`) and an HTML part (`NAME.html`), rendered with minijinja. The HTML
//! part escapes every value, so customer-supplied text cannot inject markup.
//! A file of the same name in the configured template directory replaces the built-in one.

use std::path::{Path, PathBuf};

use minijinja::{Environment, Value};

use super::Company;

/// Every message nextpanel-bill sends.
pub const TEMPLATES: &[&str] = &[
    "welcome",
    "license_issued",
    "invoice_created",
    "payment_received",
    "payment_failed",
    "payment_action_required",
    "card_expiring",
    "refund_issued",
    "dispute_opened",
    "overdue_reminder",
    "account_suspended",
    "account_unsuspended",
    "account_terminated",
    "plan_changed",
    "quota_warning",
    "quota_reached",
    "server_down",
    "server_up",
    "password_reset",
    "provisioning_failed",
    "provisioning_waiting",
];

/// The built-in template files.
const BUILT_IN: &[(&str, &str)] = &[
    (
        "_layout.html",
        include_str!("../../templates/email/_layout.html"),
    ),
    (
        "_footer.txt",
        include_str!("../../templates/email/_footer.txt"),
    ),
    (
        "welcome.txt",
        include_str!("../../templates/email/welcome.txt"),
    ),
    (
        "welcome.html",
        include_str!("../../templates/email/welcome.html"),
    ),
    (
        "license_issued.txt",
        include_str!("../../templates/email/license_issued.txt"),
    ),
    (
        "license_issued.html",
        include_str!("../../templates/email/license_issued.html"),
    ),
    (
        "invoice_created.txt",
        include_str!("../../templates/email/invoice_created.txt"),
    ),
    (
        "invoice_created.html",
        include_str!("../../templates/email/invoice_created.html"),
    ),
    (
        "payment_received.txt",
        include_str!("../../templates/email/payment_received.txt"),
    ),
    (
        "payment_received.html",
        include_str!("../../templates/email/payment_received.html"),
    ),
    (
        "payment_failed.txt",
        include_str!("../../templates/email/payment_failed.txt"),
    ),
    (
        "payment_failed.html",
        include_str!("../../templates/email/payment_failed.html"),
    ),
    (
        "payment_action_required.txt",
        include_str!("../../templates/email/payment_action_required.txt"),
    ),
    (
        "payment_action_required.html",
        include_str!("../../templates/email/payment_action_required.html"),
    ),
    (
        "card_expiring.txt",
        include_str!("../../templates/email/card_expiring.txt"),
    ),
    (
        "card_expiring.html",
        include_str!("../../templates/email/card_expiring.html"),
    ),
    (
        "refund_issued.txt",
        include_str!("../../templates/email/refund_issued.txt"),
    ),
    (
        "refund_issued.html",
        include_str!("../../templates/email/refund_issued.html"),
    ),
    (
        "dispute_opened.txt",
        include_str!("../../templates/email/dispute_opened.txt"),
    ),
    (
        "dispute_opened.html",
        include_str!("../../templates/email/dispute_opened.html"),
    ),
    (
        "overdue_reminder.txt",
        include_str!("../../templates/email/overdue_reminder.txt"),
    ),
    (
        "overdue_reminder.html",
        include_str!("../../templates/email/overdue_reminder.html"),
    ),
    (
        "account_suspended.txt",
        include_str!("../../templates/email/account_suspended.txt"),
    ),
    (
        "account_suspended.html",
        include_str!("../../templates/email/account_suspended.html"),
    ),
    (
        "account_unsuspended.txt",
        include_str!("../../templates/email/account_unsuspended.txt"),
    ),
    (
        "account_unsuspended.html",
        include_str!("../../templates/email/account_unsuspended.html"),
    ),
    (
        "account_terminated.txt",
        include_str!("../../templates/email/account_terminated.txt"),
    ),
    (
        "account_terminated.html",
        include_str!("../../templates/email/account_terminated.html"),
    ),
    (
        "plan_changed.txt",
        include_str!("../../templates/email/plan_changed.txt"),
    ),
    (
        "plan_changed.html",
        include_str!("../../templates/email/plan_changed.html"),
    ),
    (
        "quota_warning.txt",
        include_str!("../../templates/email/quota_warning.txt"),
    ),
    (
        "quota_warning.html",
        include_str!("../../templates/email/quota_warning.html"),
    ),
    (
        "quota_reached.txt",
        include_str!("../../templates/email/quota_reached.txt"),
    ),
    (
        "quota_reached.html",
        include_str!("../../templates/email/quota_reached.html"),
    ),
    (
        "server_down.txt",
        include_str!("../../templates/email/server_down.txt"),
    ),
    (
        "server_down.html",
        include_str!("../../templates/email/server_down.html"),
    ),
    (
        "provisioning_failed.txt",
        include_str!("../../templates/email/provisioning_failed.txt"),
    ),
    (
        "provisioning_failed.html",
        include_str!("../../templates/email/provisioning_failed.html"),
    ),
    (
        "provisioning_waiting.txt",
        include_str!("../../templates/email/provisioning_waiting.txt"),
    ),
    (
        "provisioning_waiting.html",
        include_str!("../../templates/email/provisioning_waiting.html"),
    ),
    (
        "server_up.txt",
        include_str!("../../templates/email/server_up.txt"),
    ),
    (
        "server_up.html",
        include_str!("../../templates/email/server_up.html"),
    ),
    (
        "password_reset.txt",
        include_str!("../../templates/email/password_reset.txt"),
    ),
    (
        "password_reset.html",
        include_str!("../../templates/email/password_reset.html"),
    ),
];

/// Why a message could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// No such template.
    #[error("unknown email template '{0}'")]
    Unknown(String),
    /// The template (built-in or override) does not render.
    #[error("email template {name} does not render: {message}")]
    Render {
        /// File name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// The text template lacks its `Subject:` line.
    #[error("email template {0}.txt must start with a 'Subject: ...' line")]
    NoSubject(String),
}

/// A rendered message.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// Subject line.
    pub subject: String,
    /// Plain-text part.
    pub text: String,
    /// HTML part.
    pub html: String,
}

/// Renders messages from built-in templates and optional overrides.
#[derive(Debug, Clone)]
pub struct Templates {
    dir: Option<PathBuf>,
    company: Company,
}

impl Templates {
    /// Templates with overrides from `dir` (read at each render, so edits apply without a restart).
    pub fn new(dir: Option<PathBuf>, company: Company) -> Templates {
        Templates { dir, company }
    }

    fn source(&self, file: &str) -> Option<String> {
        if let Some(dir) = &self.dir {
            if let Ok(text) = std::fs::read_to_string(dir.join(file)) {
                return Some(text);
            }
        }
        BUILT_IN
            .iter()
            .find(|(name, _)| *name == file)
            .map(|(_, text)| (*text).to_owned())
    }

    fn environment(&self) -> Environment<'static> {
        let mut env = Environment::new();
        // Autoescaping follows the file extension: .html escapes, .txt does not.
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                minijinja::AutoEscape::Html
            } else {
                minijinja::AutoEscape::None
            }
        });
        let this = self.clone();
        env.set_loader(move |name| Ok(this.source(name)));
        env
    }

    /// Renders `name` with `data` (plus `company` and `subject`).
    pub fn render(&self, name: &str, data: &serde_json::Value) -> Result<Rendered, TemplateError> {
        if !TEMPLATES.contains(&name) {
            return Err(TemplateError::Unknown(name.to_owned()));
        }
        let env = self.environment();
        let render = |file: &str, ctx: &Value| {
            env.get_template(file)
                .and_then(|t| t.render(ctx))
                .map_err(|e| TemplateError::Render {
                    name: file.to_owned(),
                    message: e.to_string(),
                })
        };
        let mut ctx = data.clone();
        if let Some(obj) = ctx.as_object_mut() {
            obj.insert(
                "company".into(),
                serde_json::to_value(&self.company).unwrap_or_default(),
            );
        }
        let text_full = render(&format!("{name}.txt"), &Value::from_serialize(&ctx))?;
        let (first, rest) = text_full.split_once('\n').unwrap_or((&text_full, ""));
        let subject = first
            .strip_prefix("Subject:")
            .map(|s| s.trim().to_owned())
            .ok_or_else(|| TemplateError::NoSubject(name.to_owned()))?;
        if let Some(obj) = ctx.as_object_mut() {
            obj.insert("subject".into(), serde_json::Value::String(subject.clone()));
        }
        let html = render(&format!("{name}.html"), &Value::from_serialize(&ctx))?;
        Ok(Rendered {
            subject,
            text: rest.trim_start_matches('\n').to_owned(),
            html,
        })
    }

    /// The override directory, if any.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn templates() -> Templates {
        Templates::new(
            None,
            Company {
                name: "Acme Hosting".into(),
                logo_url: Some("https://acme.example/logo.png".into()),
                support_email: Some("help@acme.example".into()),
            },
        )
    }

    fn sample() -> serde_json::Value {
        json!({
            "name": "Ada <script>alert(1)</script>", "username": "ada", "password": "Tmp-pass-1234", "panel_url": "https://panel1.example.com",
            "license_key": "NP-ABCD-EFGH-JKMN-PQRS", "plan": "Starter", "expires_at": "2027-01-01", "number": "INV-1", "amount": "USD 9.99",
            "due_date": "2026-12-01", "reason": "unpaid", "suspend_date": "2026-12-15", "resource": "databases", "used": 4, "limit": 5,
            "percent": 80, "server": "node-1", "base_url": "https://node1.example.com", "token": "abc123", "valid_minutes": 60, "reset_url": null
        })
    }

    #[test]
    fn every_template_renders_with_subject_text_and_html() -> Result<(), TemplateError> {
        let t = templates();
        for name in TEMPLATES {
            let r = t.render(name, &sample())?;
            assert!(!r.subject.is_empty(), "{name}");
            assert!(r.text.contains("Acme Hosting"), "{name}: footer");
            assert!(r.html.contains("help@acme.example"), "{name}: html footer");
            assert!(!r.html.contains("<script>"), "{name}: html must escape");
        }
        let welcome = t.render("welcome", &sample())?;
        assert!(
            welcome.text.contains("Tmp-pass-1234")
                && welcome.text.contains("NP-ABCD-EFGH-JKMN-PQRS")
        );
        assert!(welcome.html.contains("&lt;script&gt;"));
        Ok(())
    }

    #[test]
    fn overrides_replace_built_ins() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        std::fs::write(
            dir.path().join("welcome.txt"),
            "Subject: Howdy {{ username }}\nCustom body for {{ username }}\n",
        )?;
        let t = Templates::new(Some(dir.path().to_owned()), templates().company);
        let r = t.render("welcome", &sample())?;
        assert_eq!(r.subject, "Howdy ada");
        assert_eq!(r.text, "Custom body for ada");
        assert!(
            r.html.contains("Your hosting account is ready"),
            "the HTML part keeps the built-in"
        );
        std::fs::write(dir.path().join("welcome.txt"), "no subject line\n")?;
        assert!(matches!(
            t.render("welcome", &sample()),
            Err(TemplateError::NoSubject(_))
        ));
        assert!(matches!(
            t.render("nope", &sample()),
            Err(TemplateError::Unknown(_))
        ));
        Ok(())
    }
}
