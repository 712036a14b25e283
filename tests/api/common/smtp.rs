//! A real SMTP server on loopback that records what it receives and can be told to misbehave.
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use regex::{Captures, Regex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// How the sink answers; switchable while a test runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Accept,
    /// `451` to MAIL FROM.
    RejectTemporarily,
    /// `550` to RCPT TO.
    RejectPermanently,
    /// Reads and records the DATA payload (the server has the message), then never answers.
    StallAfterData,
    /// Accepts the connection and never says a word, not even its greeting.
    Silent,
    /// Takes this long to answer each message's DATA (a busy server).
    Slow(Duration),
}

/// One message as the server got it.
#[derive(Clone, Debug)]
pub struct ReceivedMessage {
    pub from: String,
    pub to: Vec<String>,
    /// The raw message, headers included, dot-unstuffed, CRLF line endings.
    pub data: String,
}

impl ReceivedMessage {
    /// The first header called `name` (any case), unfolded, with RFC 2047 words decoded.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or_default();
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", "\t");
        unfolded.split("\r\n").find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| decode_words(value.trim()))
        })
    }

    /// The body as plain text: transfer encoding undone, `\n` line endings.
    #[must_use]
    pub fn body(&self) -> String {
        let raw = self.data.split_once("\r\n\r\n").map_or("", |(_, body)| body);
        // The client ends DATA with CRLF.CRLF even after a final CRLF: that one is framing.
        let raw = raw.strip_suffix("\r\n").unwrap_or(raw);
        let encoding = self.header("Content-Transfer-Encoding").unwrap_or_default();
        let text = match encoding.to_ascii_lowercase().as_str() {
            "base64" => {
                let compact: String = raw.split_whitespace().collect();
                String::from_utf8_lossy(&STANDARD.decode(compact).expect("base64 body")).into_owned()
            }
            "quoted-printable" => decode_quoted_printable(raw),
            _ => raw.to_owned(),
        };
        text.replace("\r\n", "\n")
    }
}

struct Shared {
    mode: Mutex<Mode>,
    messages: Mutex<Vec<ReceivedMessage>>,
    connections: AtomicUsize,
}

pub struct SmtpSink {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: Mutex<Option<JoinHandle<()>>>,
}

impl SmtpSink {
    #[expect(clippy::unused_async, reason = "binding needs a runtime; async says so at the call site")]
    pub async fn start() -> SmtpSink {
        let listener = listen(SocketAddr::from(([127, 0, 0, 1], 0)));
        let sink = SmtpSink {
            addr: listener.local_addr().unwrap(),
            shared: Arc::new(Shared {
                mode: Mutex::new(Mode::Accept),
                messages: Mutex::default(),
                connections: AtomicUsize::new(0),
            }),
            server: Mutex::new(None),
        };
        sink.spawn(listener);
        sink
    }

    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Plain SMTP, no auth: lettre does no STARTTLS for `smtp://` without `?tls=`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
    }

    #[must_use]
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        self.shared.messages.lock().unwrap().clone()
    }

    /// How many messages arrived, without copying them.
    #[must_use]
    pub fn count(&self) -> usize {
        self.shared.messages.lock().unwrap().len()
    }

    /// Connections accepted since start, across restarts.
    #[must_use]
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Polls until at least `n` messages arrived; panics with what did arrive otherwise.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedMessage> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} message(s) within {timeout:?}, got {}: {got:#?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Closes the listener and every open connection: new connections are refused.
    pub async fn stop(&self) {
        let server = self.server.lock().unwrap().take();
        if let Some(server) = server {
            server.abort();
            let _ = server.await;
        }
    }

    /// Listens on the same port again.
    pub async fn restart(&self) {
        self.stop().await;
        self.spawn(listen(self.addr));
    }

    fn spawn(&self, listener: TcpListener) {
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&self.shared)));
        *self.server.lock().unwrap() = Some(task);
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        if let Some(server) = self.server.lock().unwrap().take() {
            server.abort();
        }
    }
}

fn listen(addr: SocketAddr) -> TcpListener {
    let socket = TcpSocket::new_v4().unwrap();
    // Lets restart() rebind while closed connections on the port sit in TIME_WAIT.
    socket.set_reuseaddr(true).unwrap();
    socket.bind(addr).unwrap();
    socket.listen(64).unwrap()
}

/// Owns the connections, so aborting it drops the listener and every connection at once.
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            Ok((stream, _)) = listener.accept() => {
                shared.connections.fetch_add(1, Ordering::SeqCst);
                connections.spawn(serve(stream, Arc::clone(&shared)));
            }
            Some(_) = connections.join_next() => {}
            else => {}
        }
    }
}

async fn serve(stream: TcpStream, shared: Arc<Shared>) -> std::io::Result<()> {
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let mut envelope: Option<(String, Vec<String>)> = None;
    let mut line = Vec::new();
    if *shared.mode.lock().unwrap() == Mode::Silent {
        std::future::pending::<()>().await;
    }
    writer.write_all(b"220 sink.test ESMTP test sink\r\n").await?;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let command = String::from_utf8_lossy(&line).trim_end().to_owned();
        let (verb, argument) = command.split_once(' ').unwrap_or((&command, ""));
        let mode = *shared.mode.lock().unwrap();
        let reply = match (verb.to_ascii_uppercase().as_str(), mode) {
            ("EHLO", _) => "250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8",
            ("HELO", _) => "250 sink.test",
            ("MAIL", Mode::RejectTemporarily) => "451 4.3.0 try again later",
            ("MAIL", _) => {
                envelope = Some((path(argument), Vec::new()));
                "250 2.1.0 OK"
            }
            ("RCPT", _) if envelope.is_none() => "503 5.5.1 MAIL first",
            ("RCPT", Mode::RejectPermanently) => "550 5.1.1 mailbox unavailable",
            ("RCPT", _) => {
                envelope.as_mut().unwrap().1.push(path(argument));
                "250 2.1.5 OK"
            }
            ("DATA", _) => match envelope.take() {
                Some((from, to)) if !to.is_empty() => {
                    writer.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                    let data = read_data(&mut reader).await?;
                    shared.messages.lock().unwrap().push(ReceivedMessage { from, to, data });
                    match mode {
                        Mode::StallAfterData => std::future::pending::<()>().await,
                        Mode::Slow(delay) => tokio::time::sleep(delay).await,
                        _ => {}
                    }
                    "250 2.0.0 queued"
                }
                _ => "503 5.5.1 RCPT first",
            },
            ("RSET", _) => {
                envelope = None;
                "250 2.0.0 OK"
            }
            ("NOOP", _) => "250 2.0.0 OK",
            ("QUIT", _) => {
                writer.write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(());
            }
            _ => "502 5.5.2 command not implemented",
        };
        writer.write_all(format!("{reply}\r\n").as_bytes()).await?;
    }
}

/// The mailbox between `<` and `>` in `FROM:<a@b> BODY=8BITMIME`.
fn path(command: &str) -> String {
    let start = command.find('<').map_or(0, |i| i + 1);
    let end = command.rfind('>').unwrap_or(command.len());
    command.get(start..end).unwrap_or_default().to_owned()
}

async fn read_data(reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> std::io::Result<String> {
    let mut data = String::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(data);
        }
        let unstuffed = line.strip_prefix(b".").unwrap_or(&line);
        data.push_str(&String::from_utf8_lossy(unstuffed));
    }
}

fn decode_quoted_printable(text: &str) -> String {
    let text = text.replace("=\r\n", "");
    let raw = text.as_bytes();
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let escaped =
            (raw[i] == b'=').then(|| text.get(i + 1..i + 3)).flatten().and_then(|hex| u8::from_str_radix(hex, 16).ok());
        if let Some(byte) = escaped {
            bytes.push(byte);
            i += 3;
        } else {
            bytes.push(raw[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Decodes the `=?utf-8?b?...?=` words lettre writes for non-ASCII header text.
fn decode_words(value: &str) -> String {
    let between_words = Regex::new(r"\?=\s+=\?").unwrap();
    let word = Regex::new(r"(?i)=\?utf-8\?b\?([A-Za-z0-9+/=]*)\?=").unwrap();
    let joined = between_words.replace_all(value, "?==?");
    word.replace_all(&joined, |c: &Captures| {
        String::from_utf8_lossy(&STANDARD.decode(&c[1]).unwrap_or_default()).into_owned()
    })
    .into_owned()
}
