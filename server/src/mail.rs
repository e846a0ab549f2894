//! Sending e-mail: the `Mailer` the portal's sign-in codes and the notifications go
//! through, over SMTP (lettre), and an in-memory one for tests.

use std::sync::Mutex;

/// Sends one plain-text message.
pub trait Mailer: Send + Sync {
    fn send(&self, to: &str, subject: &str, body_text: &str) -> Result<(), String>;
}

/// SMTP without TLS, for a relay on the same host or network (the school's or the
/// municipality's mail server does the rest).
pub struct SmtpMailer {
    transport: lettre::SmtpTransport,
    from: lettre::message::Mailbox,
}

impl SmtpMailer {
    pub fn new(host: &str, port: u16, from: &str) -> Result<SmtpMailer, String> {
        let from = from
            .parse()
            .map_err(|e| format!("the sender {from:?} is not an address: {e}"))?;
        let transport = lettre::SmtpTransport::builder_dangerous(host)
            .port(port)
            .timeout(Some(std::time::Duration::from_secs(10)))
            .build();
        Ok(SmtpMailer { transport, from })
    }
}

impl Mailer for SmtpMailer {
    fn send(&self, to: &str, subject: &str, body_text: &str) -> Result<(), String> {
        use lettre::Transport;
        let to = to
            .parse()
            .map_err(|e| format!("the recipient {to:?} is not an address: {e}"))?;
        let message = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(lettre::message::header::ContentType::TEXT_PLAIN)
            .body(body_text.to_owned())
            .map_err(|e| format!("the message cannot be built: {e}"))?;
        self.transport
            .send(&message)
            .map(|_| ())
            .map_err(|e| format!("SMTP: {e}"))
    }
}

/// Keeps what it is given (tests, and a server with no SMTP configured, which logs).
#[derive(Default)]
pub struct MemoryMailer {
    pub sent: Mutex<Vec<(String, String, String)>>,
}

impl Mailer for MemoryMailer {
    fn send(&self, to: &str, subject: &str, body_text: &str) -> Result<(), String> {
        self.sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((to.to_owned(), subject.to_owned(), body_text.to_owned()));
        Ok(())
    }
}
