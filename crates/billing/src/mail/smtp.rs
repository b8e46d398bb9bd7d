//! Sending over SMTP with lettre: plain, STARTTLS or implicit TLS, optional
//! authentication, and a timeout so a hung server cannot hold a sender forever.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

use super::templates::Rendered;

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain text (local relays only).
    None,
    /// STARTTLS upgrade, required.
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

impl Security {
    /// Parses `none`, `starttls` or `tls`.
    pub fn parse(raw: &str) -> Option<Security> {
        match raw {
            "none" => Some(Security::None),
            "starttls" => Some(Security::StartTls),
            "tls" => Some(Security::Tls),
            _ => None,
        }
    }
}

/// SMTP settings.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// Server host.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Connection security.
    pub security: Security,
    /// Login, if the server wants one.
    pub username: Option<String>,
    /// Password for the login.
    pub password: Option<SecretString>,
    /// Sender, e.g. `Acme Hosting <billing@acme.example>`.
    pub from: String,
    /// Timeout of each SMTP conversation.
    pub timeout: Duration,
    /// PEM file of an extra certificate authority to trust (a relay with a private CA).
    pub ca_file: Option<std::path::PathBuf>,
}

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// An address does not parse.
    #[error("invalid address {0}")]
    Address(String),
    /// The message could not be built.
    #[error("cannot build the message: {0}")]
    Build(String),
    /// The SMTP server refused or could not be reached; the text never holds the password.
    #[error("SMTP: {0}")]
    Smtp(String),
}

/// Sends rendered messages.
#[derive(Clone)]
pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for SmtpSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSender")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

/// A file sent with a message (an invoice's PDF).
#[derive(Debug, Clone)]
pub struct Attachment {
    /// Its file name.
    pub filename: String,
    /// Its media type, e.g. `application/pdf`.
    pub content_type: String,
    /// Its content.
    pub bytes: Vec<u8>,
}

impl SmtpSender {
    /// Builds a sender (no connection is made until the first message).
    pub fn new(s: &SmtpSettings) -> Result<SmtpSender, MailError> {
        let from: Mailbox = s
            .from
            .parse()
            .map_err(|_| MailError::Address(s.from.clone()))?;
        let extra_ca = match &s.ca_file {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| {
                    MailError::Smtp(format!("cannot read smtp_ca_file {}: {e}", path.display()))
                })?;
                Some(Certificate::from_pem(&pem).map_err(|e| {
                    MailError::Smtp(format!(
                        "smtp_ca_file {} is not a PEM certificate: {e}",
                        path.display()
                    ))
                })?)
            }
            None => None,
        };
        let tls = |host: &str| {
            let mut params = TlsParameters::builder(host.to_owned());
            if let Some(ca) = extra_ca.clone() {
                params = params.add_root_certificate(ca);
            }
            params
                .build_rustls()
                .map_err(|e| MailError::Smtp(e.to_string()))
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host)
            .port(s.port)
            .timeout(Some(s.timeout))
            .tls(match s.security {
                Security::None => Tls::None,
                Security::StartTls => Tls::Required(tls(&s.host)?),
                Security::Tls => Tls::Wrapper(tls(&s.host)?),
            });
        if let (Some(user), Some(password)) = (&s.username, &s.password) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose_secret().to_owned(),
            ));
        }
        Ok(SmtpSender {
            transport: builder.build(),
            from,
        })
    }

    /// Sends one message with a plain-text and an HTML part, and its attachments;
    /// `message_id` is stable per outbox row, so a resend after a crash can be
    /// recognised downstream.
    pub async fn send(
        &self,
        to: &str,
        message: &Rendered,
        message_id: &str,
        attachments: &[Attachment],
    ) -> Result<(), MailError> {
        let to: Mailbox = to.parse().map_err(|_| MailError::Address(to.to_owned()))?;
        let body = MultiPart::alternative()
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(message.text.clone()),
            )
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(message.html.clone()),
            );
        let body = if attachments.is_empty() {
            body
        } else {
            let mut mixed = MultiPart::mixed().multipart(body);
            for a in attachments {
                let content_type = ContentType::parse(&a.content_type)
                    .map_err(|e| MailError::Build(e.to_string()))?;
                mixed = mixed.singlepart(
                    lettre::message::Attachment::new(a.filename.clone())
                        .body(a.bytes.clone(), content_type),
                );
            }
            mixed
        };
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.clone())
            .message_id(Some(message_id.to_owned()))
            .multipart(body)
            .map_err(|e| MailError::Build(e.to_string()))?;
        self.transport
            .send(email)
            .await
            .map_err(|e| MailError::Smtp(e.to_string()))?;
        Ok(())
    }
}
