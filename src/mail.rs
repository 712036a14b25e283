//! Sending email over SMTP, with failures sorted into "retry later" and "will never work".
use std::time::Duration;

use anyhow::Context as _;
use lettre::message::header::{ContentType, MIME_VERSION_1_0};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use uuid::Uuid;

/// Why a message was not handed over; the dispatcher retries `Transient` and parks `Permanent`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The server refused the message for good (5xx), or it cannot be built (bad address).
    #[error("permanent mail failure: {0}")]
    Permanent(String),
    /// Connection refused or dropped, timeout, 4xx reply: worth trying again later.
    #[error("transient mail failure: {0}")]
    Transient(String),
}

/// One plain-text message for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    pub to: String,
    pub subject: String,
    pub body: String,
    /// Without angle brackets, e.g. `3f2a...@care-hub.local`; see [`message_id_for`].
    pub message_id: String,
    /// A file sent with the text (a board pack), or none.
    pub attachment: Option<Attachment>,
}

/// A text file attached to an email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    /// A media type, e.g. `text/html; charset=utf-8`.
    pub content_type: String,
    pub body: String,
}

/// The Message-ID for an outbox row: stable across retries, so a receiver can spot a duplicate
/// delivery (a send that timed out after the server had in fact taken the message).
#[must_use]
pub fn message_id_for(id: Uuid, domain: &str) -> String {
    format!("{id}@{domain}")
}

/// Sends over `smtp://` (plain), `smtp://...?tls=required` (STARTTLS) or `smtps://` (TLS).
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    message_id_domain: String,
    send_timeout: Duration,
}

impl std::fmt::Debug for Mailer {
    // The transport may carry credentials; show only what helps diagnose routing.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .field("message_id_domain", &self.message_id_domain)
            .field("send_timeout", &self.send_timeout)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    pub fn from_url(url: &str, from: &str, message_id_domain: &str, send_timeout: Duration) -> anyhow::Result<Mailer> {
        // The URL may hold a password, so it stays out of the error message.
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .context("invalid SMTP URL")?
            .timeout(Some(send_timeout))
            .build();
        let from = from.parse::<Mailbox>().with_context(|| format!("invalid sender address {from:?}"))?;
        anyhow::ensure!(is_plain_token(message_id_domain), "invalid Message-ID domain {message_id_domain:?}");
        Ok(Mailer { transport, from, message_id_domain: message_id_domain.to_owned(), send_timeout })
    }

    /// The Message-ID for `id` under this mailer's domain.
    #[must_use]
    pub fn message_id(&self, id: Uuid) -> String {
        message_id_for(id, &self.message_id_domain)
    }

    /// Sends `email`; the whole conversation is bounded by the send timeout, since lettre's own
    /// timeout covers only the TCP connect.
    pub async fn send(&self, email: &OutgoingEmail) -> Result<(), SendError> {
        let message = self.build(email)?;
        match tokio::time::timeout(self.send_timeout, self.transport.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
            Ok(Err(e)) => Err(SendError::Transient(e.to_string())),
            Err(_) => {
                Err(SendError::Transient(format!("no answer from the SMTP server within {:?}", self.send_timeout)))
            }
        }
    }

    fn build(&self, email: &OutgoingEmail) -> Result<Message, SendError> {
        let to = email
            .to
            .parse::<Mailbox>()
            .map_err(|e| SendError::Permanent(format!("invalid recipient address {:?}: {e}", email.to)))?;
        let (local, domain) = email.message_id.split_once('@').unwrap_or_default();
        if !is_plain_token(local) || !is_plain_token(domain) {
            return Err(SendError::Permanent(format!("invalid Message-ID {:?}", email.message_id)));
        }
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject.as_str())
            .message_id(Some(format!("<{}>", email.message_id)))
            .date_now()
            .header(MIME_VERSION_1_0);
        let message = match &email.attachment {
            // A raw body rather than a SinglePart, which would append a blank line to the text.
            None => builder.header(ContentType::TEXT_PLAIN).body(email.body.clone()),
            Some(a) => {
                let kind = ContentType::parse(&a.content_type)
                    .map_err(|e| SendError::Permanent(format!("invalid attachment type {:?}: {e}", a.content_type)))?;
                builder.multipart(
                    MultiPart::mixed()
                        .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(email.body.clone()))
                        .singlepart(lettre::message::Attachment::new(a.filename.clone()).body(a.body.clone(), kind)),
                )
            }
        };
        message.map_err(|e| SendError::Permanent(format!("cannot build message: {e}")))
    }
}

/// Non-empty printable ASCII without the characters that would break a `<local@domain>` id.
fn is_plain_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'@'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailer() -> Mailer {
        Mailer::from_url(
            "smtp://127.0.0.1:1",
            "Care Hub <noreply@care-hub.test>",
            "care-hub.test",
            Duration::from_secs(1),
        )
        .unwrap()
    }

    fn email(to: &str) -> OutgoingEmail {
        OutgoingEmail {
            to: to.to_owned(),
            subject: "Hello".to_owned(),
            body: "Body".to_owned(),
            message_id: "abc@care-hub.test".to_owned(),
            attachment: None,
        }
    }

    // With connection pooling the transport starts a task, so it needs a runtime.
    #[tokio::test]
    async fn message_id_is_the_uuid_at_the_domain() {
        let id = Uuid::parse_str("3f2a6c1e-0000-4000-8000-000000000001").unwrap();
        assert_eq!(message_id_for(id, "care-hub.local"), "3f2a6c1e-0000-4000-8000-000000000001@care-hub.local");
        assert_eq!(mailer().message_id(id), message_id_for(id, "care-hub.test"));
    }

    #[tokio::test]
    async fn an_unparseable_recipient_is_permanent_without_connecting() {
        for to in ["", "not-an-address", "a@b@c", "x@"] {
            let err = mailer().send(&email(to)).await.unwrap_err();
            assert!(matches!(err, SendError::Permanent(_)), "{to:?}: {err:?}");
        }
    }

    #[tokio::test]
    async fn a_malformed_message_id_is_permanent() {
        for id in ["no-at-sign", "<a@b>", "a b@c", "a@b\r\nBcc: x@y", "@b"] {
            let mut e = email("victim@example.org");
            e.message_id = id.to_owned();
            let err = mailer().send(&e).await.unwrap_err();
            assert!(matches!(err, SendError::Permanent(_)), "{id:?}: {err:?}");
        }
    }

    #[tokio::test]
    async fn a_refused_connection_is_transient() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mailer = Mailer::from_url(
            &format!("smtp://127.0.0.1:{port}"),
            "noreply@care-hub.test",
            "care-hub.test",
            Duration::from_secs(1),
        )
        .unwrap();
        let err = mailer.send(&email("victim@example.org")).await.unwrap_err();
        assert!(matches!(err, SendError::Transient(_)), "{err:?}");
    }

    #[tokio::test]
    async fn bad_configuration_is_refused_up_front() {
        let t = Duration::from_secs(1);
        assert!(Mailer::from_url("http://x", "a@b.c", "d", t).is_err());
        assert!(Mailer::from_url("smtp://x", "nobody", "d", t).is_err());
        assert!(Mailer::from_url("smtp://x", "a@b.c", "", t).is_err());
    }
}
