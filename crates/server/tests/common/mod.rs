//! Runs the real `diemcau` binary for integration tests: a temporary config,
//! registry and data dir, `--listen 127.0.0.1:0`, the address read from its
//! stdout, tokens minted with the same secret. The process is killed when
//! the handle drops.
#![allow(dead_code)]

use diemcau::auth::{Claims, Keys, Role};
use futures::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tempfile::TempDir;
use tokio_tungstenite::tungstenite::Message;

/// Longest wait for the server to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait for one WebSocket message.
pub const WS_TIMEOUT: Duration = Duration::from_secs(15);
/// Body and WebSocket message limit written into the test config.
pub const LIMIT: usize = 4096;

/// The test registry: the chair's site and four provinces.
pub const CENTRAL: &str = "00";
pub const HAI_DUONG: &str = "30";
pub const HAI_PHONG: &str = "31";
pub const HA_NOI: &str = "01";
pub const HO_CHI_MINH: &str = "79";

const REGISTRY: &str = r#"
[[endpoint]]
code = "00"
name = "Trung ương (Phòng họp Chính phủ)"
role = "central"

[[endpoint]]
code = "01"
name = "Hà Nội"
role = "provincial"

[[endpoint]]
code = "30"
name = "Hải Dương"
role = "provincial"

[[endpoint]]
code = "31"
name = "Hải Phòng"
role = "provincial"

[[endpoint]]
code = "79"
name = "Thành phố Hồ Chí Minh"
role = "provincial"
"#;

/// A running server.
pub struct Server {
    child: Option<Child>,
    pub addr: SocketAddr,
    pub keys: Keys,
    secret: String,
    dir: TempDir,
    http: reqwest::Client,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Extra `[limits]` lines a test asks for (see [`Server::start_with_limits`]).
const EXTRA_LIMITS: &str = "limits.extra";
/// Extra `[media]` lines a test asks for (see [`Server::start_with_media`]).
const EXTRA_MEDIA: &str = "media.extra";

fn write_config(dir: &Path) -> PathBuf {
    let config = dir.join("diemcau.toml");
    let extra = std::fs::read_to_string(dir.join(EXTRA_LIMITS)).unwrap_or_default();
    let extra_media = std::fs::read_to_string(dir.join(EXTRA_MEDIA)).unwrap_or_default();
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\npublic_url = \"http://127.0.0.1\"\nregistry = \"endpoints.toml\"\n\n\
             [limits]\nmax_body_bytes = {LIMIT}\nmax_ws_message_bytes = {LIMIT}\n\
             commands_per_sec = 1000\ncommand_burst = 1000\n{extra}\n\
             [media]\nudp_port = 0\nbind_ip = \"127.0.0.1\"\n{extra_media}"
        ),
    )
    .expect("write test config");
    let registry = dir.join("endpoints.toml");
    if !registry.exists() {
        std::fs::write(registry, REGISTRY).expect("write test registry");
    }
    config
}

/// Marks a data dir whose server runs the shipped config file.
/// A metric's value in Prometheus text: the first line that starts with
/// `series` (name and labels as rendered).
pub fn metric_value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

const SHIPPED_MARK: &str = "use-shipped-config";

/// The shipped config file, or where a test changes some of its
/// `[media]` settings, a copy with those lines changed and the registry
/// still the shipped one.
fn shipped_config(dir: &Path) -> PathBuf {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/diemcau.toml");
    let Ok(changes) = std::fs::read_to_string(dir.join(EXTRA_MEDIA)) else {
        return shipped;
    };
    let registry = shipped.with_file_name("endpoints-63.toml");
    let text = std::fs::read_to_string(&shipped).expect("read the shipped config");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let registry_line = format!("registry = {:?}", registry.display().to_string());
    for change in std::iter::once(registry_line.as_str()).chain(changes.lines()) {
        let key = change.split('=').next().expect("a key").trim();
        let prefix = format!("{key} =");
        let at: Vec<usize> = (0..lines.len())
            .filter(|i| lines[*i].starts_with(&prefix))
            .collect();
        assert_eq!(at.len(), 1, "`{key} =` once in the shipped config");
        lines[at[0]] = change.to_owned();
    }
    let config = dir.join("diemcau.toml");
    std::fs::write(&config, lines.join("\n")).expect("write the changed config");
    config
}

fn spawn(dir: &Path, secret: &str) -> (Child, SocketAddr) {
    let shipped = dir.join(SHIPPED_MARK).exists();
    let config = if shipped {
        shipped_config(dir)
    } else {
        write_config(dir)
    };
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .expect("open server log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_diemcau"))
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .arg("--data")
        .arg(dir.join("data"))
        .arg("--listen")
        .arg("127.0.0.1:0")
        .args(if shipped {
            &["--media-port", "0"][..]
        } else {
            &[][..]
        })
        .env("DIEMCAU_SECRET", secret)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("spawn the diemcau binary");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    // Reads stdout to its end so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(addr) = line.strip_prefix("diemcau listening on http://") {
                let _ = tx.send(addr.trim().to_string());
            }
        }
    });
    let addr = match rx.recv_timeout(START_TIMEOUT) {
        Ok(a) => a.parse().expect("a socket address"),
        Err(_) => {
            let _ = child.kill();
            let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
            panic!("the server did not print its address; log:\n{log}");
        }
    };
    (child, addr)
}

impl Server {
    /// Starts a server on a fresh data dir.
    pub fn start() -> Server {
        Server::start_in(tempfile::tempdir().expect("temp dir"))
    }

    /// Starts a server on `dir`, which may already hold its registry.
    fn start_in(dir: tempfile::TempDir) -> Server {
        let secret = format!("test-secret-{:016x}", rand::random::<u64>());
        let (child, addr) = spawn(dir.path(), &secret);
        Server {
            child: Some(child),
            addr,
            keys: Keys::new(secret.as_bytes()),
            secret,
            dir,
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(30))
                // The server closes a kept-alive connection after half its
                // header timeout with nothing in flight (5 s by default): a
                // client must let its idle connections go sooner, or one
                // request in a while meets a connection closing under it.
                .pool_idle_timeout(Duration::from_secs(2))
                .build()
                .expect("http client"),
        }
    }

    /// Starts a server on the shipped config file (`config/diemcau.toml`:
    /// media on the wildcard, the 63-province registry), with only the
    /// ports (HTTP and media: any free one) and the data dir its own.
    pub fn start_shipped() -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join(SHIPPED_MARK), "").expect("write mark");
        Server::start_in(dir)
    }

    /// Starts a server on the shipped config file with some `[media]`
    /// settings changed (`key = value` lines, each replacing the shipped
    /// line of that key).
    pub fn start_shipped_with_media(lines: &str) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join(SHIPPED_MARK), "").expect("write mark");
        std::fs::write(dir.path().join(EXTRA_MEDIA), lines).expect("write media lines");
        Server::start_in(dir)
    }

    /// Starts a server with extra `[limits]` lines (e.g. short timeouts).
    pub fn start_with_limits(lines: &str) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join(EXTRA_LIMITS), lines).expect("write limits");
        Server::start_in(dir)
    }

    /// Starts a server with extra `[media]` lines (e.g. small limits).
    pub fn start_with_media(lines: &str) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join(EXTRA_MEDIA), lines).expect("write media lines");
        Server::start_in(dir)
    }

    /// Starts a server whose registry is the central site `00` and the
    /// given provincial codes.
    pub fn start_with_provinces(codes: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut registry = String::from(
            "[[endpoint]]\ncode = \"00\"\nname = \"Trung ương\"\nrole = \"central\"\n",
        );
        for code in codes {
            registry.push_str(&format!(
                "\n[[endpoint]]\ncode = \"{code}\"\nname = \"Tỉnh {code}\"\nrole = \"provincial\"\n"
            ));
        }
        std::fs::write(dir.path().join("endpoints.toml"), registry).expect("write test registry");
        Server::start_in(dir)
    }

    /// The server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the process with SIGKILL (no shutdown of any kind) and starts
    /// a new one on the same data dir and secret.
    pub fn crash_and_restart(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL the server");
            child.wait().expect("reap the server");
        }
        let (child, addr) = spawn(self.dir.path(), &self.secret);
        self.child = Some(child);
        self.addr = addr;
    }

    /// Sends SIGTERM and waits (bounded) for the process to exit; returns
    /// whether it exited successfully.
    pub fn terminate(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .is_ok_and(|s| s.success());
        assert!(sent, "kill -TERM failed");
        for _ in 0..200 {
            if let Ok(Some(status)) = child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }

    /// The server's data dir (`--data`): the store, the recordings, the
    /// minutes key.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A token valid for 8 hours.
    pub fn token(&self, role: Role, endpoint: Option<&str>, session: Option<&str>) -> String {
        let claims = Claims::new(
            role,
            endpoint.map(Into::into),
            session.map(str::to_string),
            Duration::from_secs(8 * 3600),
            now_secs(),
        );
        self.keys.mint(&claims).expect("mint")
    }
    pub fn chair(&self) -> String {
        self.token(Role::Chair, None, None)
    }
    pub fn technician(&self) -> String {
        self.token(Role::Technician, None, None)
    }
    pub fn viewer(&self) -> String {
        self.token(Role::Viewer, None, None)
    }
    pub fn endpoint(&self, code: &str) -> String {
        self.token(Role::Endpoint, Some(code), None)
    }
    /// A chair token that expired an hour ago.
    pub fn expired(&self) -> String {
        let mut claims = Claims::new(
            Role::Chair,
            None,
            None,
            Duration::from_secs(60),
            now_secs() - 7200,
        );
        claims.exp = now_secs() - 3600;
        self.keys.mint(&claims).expect("mint")
    }
    /// A token signed with the server's secret whose claims break the
    /// rules the minting side enforces (e.g. an endpoint token naming no
    /// endpoint): the server must refuse it on its own.
    pub fn misshapen(&self, claims: serde_json::Value) -> String {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(self.secret.as_bytes()),
        )
        .expect("encode")
    }
    /// A chair token signed with another secret.
    pub fn forged(&self) -> String {
        let claims = Claims::new(
            Role::Chair,
            None,
            None,
            Duration::from_secs(3600),
            now_secs(),
        );
        Keys::new(b"not the server's secret")
            .mint(&claims)
            .expect("mint")
    }

    /// Sends a request; returns the status and the body as JSON (or as a
    /// JSON string when it is not JSON).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }
    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }
    pub async fn post(&self, path: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), body).await
    }
    pub async fn put(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }
    pub async fn delete(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, Some(token), None).await
    }
    /// A raw request, for bodies that are not JSON.
    /// The `/metrics` text; empty when the scrape fails.
    pub async fn metrics_text(&self) -> String {
        match self.raw(Method::GET, "/metrics").send().await {
            Ok(response) => response.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// A metric's value from `/metrics` (see [`metric_value`]).
    pub async fn metric(&self, series: &str) -> Option<f64> {
        metric_value(&self.metrics_text().await, series)
    }

    pub fn raw(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path))
    }

    /// Like `post`, but panics unless the status is 2xx.
    pub async fn ok(&self, path: &str, token: &str, body: Option<Value>) -> Value {
        let (status, value) = self.post(path, token, body).await;
        assert!(status.is_success(), "POST {path} → {status} {value}");
        value
    }

    /// The session's state as the chair sees it.
    pub async fn state(&self, id: &str) -> Value {
        let (status, value) = self
            .get(&format!("/api/sessions/{id}"), &self.chair())
            .await;
        assert_eq!(status, StatusCode::OK, "GET session {id}: {value}");
        value
    }

    /// Creates a session with the chair's token.
    pub async fn create(&self, id: &str, title: &str) -> Value {
        let (status, value) = self
            .post(
                "/api/sessions",
                &self.chair(),
                Some(serde_json::json!({"id": id, "title": title})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "create {id}: {value}");
        value
    }

    /// Marks endpoints connected through the technician's link override.
    pub async fn connect(&self, id: &str, codes: &[&str]) {
        let tech = self.technician();
        for code in codes {
            self.ok(
                &format!("/api/sessions/{id}/endpoints/{code}/connect"),
                &tech,
                None,
            )
            .await;
        }
    }

    /// Opens a WebSocket.
    pub async fn ws(&self, token: &str, session: Option<&str>) -> Ws {
        let mut url = format!("ws://{}/ws?token={token}", self.addr);
        if let Some(s) = session {
            url.push_str(&format!("&session={s}"));
        }
        let (stream, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket connect");
        Ws { stream }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

type Stream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A WebSocket client.
pub struct Ws {
    pub stream: Stream,
}

impl Ws {
    pub async fn send(&mut self, value: Value) {
        self.send_text(value.to_string()).await;
    }
    pub async fn send_text(&mut self, text: String) {
        self.stream
            .send(Message::Text(text.into()))
            .await
            .expect("websocket send");
    }
    /// The next JSON message, or `None` when the socket closed.
    pub async fn next(&mut self) -> Option<Value> {
        loop {
            let msg = tokio::time::timeout(WS_TIMEOUT, self.stream.next())
                .await
                .expect("a websocket message in time");
            match msg {
                Some(Ok(Message::Text(t))) => {
                    return Some(serde_json::from_str(t.as_str()).expect("server sends JSON"))
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    }
    /// The next JSON message; panics if the socket closed.
    pub async fn recv(&mut self) -> Value {
        self.next().await.expect("the websocket is open")
    }
    /// Skips messages until one of type `kind` (bounded: at most 200).
    pub async fn until(&mut self, kind: &str) -> Value {
        for _ in 0..200 {
            let m = self.recv().await;
            if m["type"] == kind {
                return m;
            }
        }
        panic!("no `{kind}` message within 200 messages");
    }
    /// Skips messages until the answer to command `id`.
    pub async fn answer(&mut self, id: &str) -> Value {
        for _ in 0..200 {
            let m = self.recv().await;
            if m["id"] == id && (m["type"] == "ok" || m["type"] == "error") {
                return m;
            }
        }
        panic!("no answer to `{id}` within 200 messages");
    }
    /// Skips messages until an event named `event`.
    pub async fn event(&mut self, event: &str) -> Value {
        for _ in 0..200 {
            let m = self.recv().await;
            if m["type"] == "event" && m["event"]["event"] == event {
                return m;
            }
        }
        panic!("no `{event}` event within 200 messages");
    }
    /// Sends a command and returns its answer.
    pub async fn command(&mut self, id: &str, command: Value) -> Value {
        self.send(serde_json::json!({"type": "command", "id": id, "command": command}))
            .await;
        self.answer(id).await
    }
}
