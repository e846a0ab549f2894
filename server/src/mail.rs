//! Outgoing e-mail: parents' one-time sign-in codes (and, later, notifications). The
//! [`Mailer`] is blocking; callers run it on tokio's blocking pool.

use std::sync::Mutex;

use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::SmtpTransport;
use lettre::{Message, Transport};

/// How long an SMTP conversation may take before the send counts as failed.
pub const SMTP_TIMEOUT_S: u64 = 10;

pub trait Mailer: Send + Sync {
    /// Sends one plain-text message; the error is a sentence for the log.
    fn send(&self, to: &str, subject: &str, body_text: &str) -> Result<(), String>;
}

/// Plain SMTP to a relay (a local MTA, or the municipality's relay on the LAN), without
/// TLS or authentication: the relay is on loopback or a trusted network.
pub struct Smtp {
    transport: SmtpTransport,
    from: Mailbox,
}

impl Smtp {
    pub fn new(host: &str, port: u16, from: &str) -> Result<Smtp, String> {
        let from: Mailbox = from
            .parse()
            .map_err(|error| format!("the sender address {from:?}: {error}"))?;
        let transport = SmtpTransport::builder_dangerous(host)
            .port(port)
            .timeout(Some(std::time::Duration::from_secs(SMTP_TIMEOUT_S)))
            .build();
        Ok(Smtp { transport, from })
    }
}

impl Mailer for Smtp {
    fn send(&self, to: &str, subject: &str, body_text: &str) -> Result<(), String> {
        let to: Mailbox = to
            .parse()
            .map_err(|error| format!("the address {to:?}: {error}"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body_text.to_owned())
            .map_err(|error| format!("building the message: {error}"))?;
        self.transport
            .send(&message)
            .map(|_| ())
            .map_err(|error| format!("sending by SMTP: {error}"))
    }
}

/// A message the [`Memory`] mailer kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMail {
    pub to: String,
    pub subject: String,
    pub body_text: String,
}

/// Keeps messages in memory: tests read the codes from it; a server with no SMTP
/// configured logs that mail is not delivered.
#[derive(Default)]
pub struct Memory {
    sent: Mutex<Vec<SentMail>>,
}

impl Memory {
    pub fn sent(&self) -> Vec<SentMail> {
        self.sent.lock().expect("the mailbox").clone()
    }
}

impl Mailer for Memory {
    fn send(&self, to: &str, subject: &str, body_text: &str) -> Result<(), String> {
        self.sent.lock().expect("the mailbox").push(SentMail {
            to: to.to_owned(),
            subject: subject.to_owned(),
            body_text: body_text.to_owned(),
        });
        Ok(())
    }
}

/// Writes each message to the log instead of sending it: the demo's mailer, so whoever
/// tries the portal on `make server` reads the sign-in code in the terminal.
pub struct Console;

impl Mailer for Console {
    fn send(&self, to: &str, subject: &str, body_text: &str) -> Result<(), String> {
        tracing::info!(
            to,
            subject,
            "mail (not sent: the demo has no SMTP relay)\n{body_text}"
        );
        Ok(())
    }
}

/// A server with no SMTP relay configured: every message fails, so sign-in codes say so in
/// the log and notifications stay in the outbox as undelivered, nothing piles up in memory.
pub struct Unconfigured;

impl Mailer for Unconfigured {
    fn send(&self, _to: &str, _subject: &str, _body_text: &str) -> Result<(), String> {
        Err("no SMTP relay is configured (smtp_host)".to_owned())
    }
}
