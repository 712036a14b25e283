//! The mailer against a real SMTP server on loopback: delivery, and how each failure is classed.
use std::time::{Duration, Instant};

use care_hub::mail::{Mailer, OutgoingEmail, SendError, message_id_for};
use uuid::Uuid;

use crate::common::smtp::{Mode, SmtpSink};

const WAIT: Duration = Duration::from_secs(5);

fn mailer(sink: &SmtpSink, send_timeout: Duration) -> Mailer {
    Mailer::from_url(&sink.url(), "Care Hub <noreply@care-hub.test>", "care-hub.test", send_timeout).unwrap()
}

fn email(body: &str) -> OutgoingEmail {
    OutgoingEmail {
        to: "victim@example.org".to_owned(),
        subject: "Update on your case – Café Street".to_owned(),
        body: body.to_owned(),
        message_id: message_id_for(Uuid::new_v4(), "care-hub.test"),
        attachment: None,
    }
}

#[tokio::test]
async fn a_message_arrives_with_recipient_subject_message_id_and_body() {
    let sink = SmtpSink::start().await;
    let body = "Dear Ms Ŵyn,\n.\nThe hearing is listed for 3 March at Cardiff Crown Court. \
                This line is long enough that it has to be wrapped on the wire, which it will be.\n";
    let email = email(body);

    mailer(&sink, WAIT).send(&email).await.unwrap();

    let [received] = <[_; 1]>::try_from(sink.wait_for(1, WAIT).await).unwrap();
    assert_eq!(received.from, "noreply@care-hub.test");
    assert_eq!(received.to, ["victim@example.org"]);
    assert_eq!(received.header("to").unwrap(), "victim@example.org");
    assert_eq!(received.header("Subject").unwrap(), "Update on your case – Café Street");
    assert_eq!(received.header("Message-ID").unwrap(), format!("<{}>", email.message_id));
    assert!(received.header("Date").is_some());
    assert!(received.header("Content-Type").unwrap().starts_with("text/plain; charset=utf-8"));
    assert_eq!(received.body(), body);
    assert_eq!(sink.connections(), 1);
}

#[tokio::test]
async fn a_temporary_rejection_is_transient() {
    let sink = SmtpSink::start().await;
    sink.set_mode(Mode::RejectTemporarily);

    let err = mailer(&sink, WAIT).send(&email("Hello")).await.unwrap_err();

    assert!(matches!(&err, SendError::Transient(m) if m.contains("451")), "{err:?}");
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn a_permanent_rejection_is_permanent() {
    let sink = SmtpSink::start().await;
    sink.set_mode(Mode::RejectPermanently);

    let err = mailer(&sink, WAIT).send(&email("Hello")).await.unwrap_err();

    assert!(matches!(&err, SendError::Permanent(m) if m.contains("550")), "{err:?}");
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn a_server_that_never_answers_after_data_times_out_as_transient() {
    let sink = SmtpSink::start().await;
    sink.set_mode(Mode::StallAfterData);
    let started = Instant::now();

    let err = mailer(&sink, Duration::from_millis(500)).send(&email("Hello")).await.unwrap_err();

    assert!(matches!(err, SendError::Transient(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // The server holds the message although the client saw a failure: a retry will duplicate
    // it, which is why the Message-ID is stable per outbox row.
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn a_stopped_server_is_transient_and_accepts_again_once_restarted() {
    let sink = SmtpSink::start().await;
    let mailer = mailer(&sink, WAIT);
    sink.stop().await;

    let err = mailer.send(&email("first")).await.unwrap_err();
    assert!(matches!(err, SendError::Transient(_)), "{err:?}");
    assert_eq!(sink.connections(), 0);

    sink.restart().await;
    mailer.send(&email("second")).await.unwrap();

    let received = sink.wait_for(1, WAIT).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].body(), "second");
}
