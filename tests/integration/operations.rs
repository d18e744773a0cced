//! Operations, as an operator and a hostile client see them: new generations picked up without
//! a restart, the HTTP layer's own errors as JSON, slow and idle connections closed, a cap on
//! connections, expensive work that stops at its deadline, a build killed halfway.
//!
//! No assertion depends on how fast this machine is: waits are polls with generous limits, and
//! "nothing happens" is checked only where nothing can happen until the test acts.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use occusearch::index::{self, OccuIndex};
use occusearch::ingest::IngestOptions;
use occusearch::search::Searcher;
use occusearch::server::{serve_on, AppState, ConnectionLimits, Loaded, ServerOptions};

/// A server on a free port of this process, stopped when the returned sender drops.
fn start(state: Arc<AppState>, options: ServerOptions) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (bound, addr) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            bound.send(listener.local_addr().unwrap()).unwrap();
            serve_on(listener, state, options, async {
                let _ = stopped.await;
            })
            .await;
        });
    });
    (addr.recv().unwrap(), stop)
}

fn options(header_timeout: Duration, max_connections: usize) -> ServerOptions {
    ServerOptions {
        connections: ConnectionLimits {
            header_timeout,
            max_connections,
            shutdown_grace: Duration::from_secs(1),
        },
        ..ServerOptions::default()
    }
}

/// Sends raw bytes, reads the whole answer (the server closes after an error it made itself).
fn raw_exchange(addr: SocketAddr, request: &[u8]) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_string())
}

fn error_code(head: &str, body: &str) -> String {
    assert!(head.contains("content-type: application/json"), "{head}");
    let value: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body:?}"));
    value["error"]["code"].as_str().unwrap_or_default().to_string()
}

#[test]
fn errors_hyper_answers_by_itself_have_json_bodies() {
    let (addr, _stop) = start(Arc::new(AppState::default()), options(Duration::from_secs(10), 64));
    let long = format!("GET /search?q={} HTTP/1.1\r\nhost: x\r\n\r\n", "a".repeat(100_000));
    let (status, head, body) = raw_exchange(addr, long.as_bytes());
    assert_eq!((status, error_code(&head, &body).as_str()), (414, "uri_too_long"));
    let many: String = (0..200).map(|i| format!("x-h{i}: v\r\n")).collect();
    let request = format!("GET /health HTTP/1.1\r\nhost: x\r\n{many}\r\n");
    let (status, head, body) = raw_exchange(addr, request.as_bytes());
    assert_eq!((status, error_code(&head, &body).as_str()), (431, "headers_too_large"));
    let (status, head, body) = raw_exchange(addr, b"GET /health HTTP/1.1\r\nbad header line\r\n\r\n");
    assert_eq!((status, error_code(&head, &body).as_str()), (400, "bad_request"));
    // And those the router makes: 405 and 404 over the wire too.
    let (status, head, body) = raw_exchange(addr, b"DELETE /search HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    assert_eq!((status, error_code(&head, &body).as_str()), (405, "method_not_allowed"));
    let (status, head, body) = raw_exchange(addr, b"GET /nope HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    assert_eq!((status, error_code(&head, &body).as_str()), (404, "not_found"));
}

/// Reads until the server closes the connection; the time it took.
fn closed_within(mut stream: TcpStream, limit: Duration) -> Duration {
    let started = Instant::now();
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return started.elapsed(),
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return started.elapsed(),
            Err(e) => panic!("still open after {limit:?}: {e}"),
        }
    }
}

#[test]
fn slow_headers_and_idle_keep_alive_connections_are_closed() {
    let (addr, _stop) = start(Arc::new(AppState::default()), options(Duration::from_secs(1), 64));
    // Half a request line, then nothing.
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.write_all(b"GET /health HT").unwrap();
    closed_within(slow, Duration::from_secs(20));
    // A connection that never sends a byte.
    closed_within(TcpStream::connect(addr).unwrap(), Duration::from_secs(20));
    // One full request and answer on a keep-alive connection, then idle.
    let mut idle = TcpStream::connect(addr).unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
    let mut first = [0u8; 12];
    idle.read_exact(&mut first).unwrap();
    assert_eq!(
        &first, b"HTTP/1.1 503",
        "an answer (503: no index) on a kept-alive connection"
    );
    closed_within(idle, Duration::from_secs(20));
}

#[test]
fn connections_beyond_the_cap_wait_until_one_closes() {
    let (addr, _stop) = start(Arc::new(AppState::default()), options(Duration::from_secs(60), 2));
    let first = TcpStream::connect(addr).unwrap();
    let second = TcpStream::connect(addr).unwrap();
    // Let the server accept both (it takes a permit per connection before accepting).
    std::thread::sleep(Duration::from_millis(300));
    let mut third = TcpStream::connect(addr).unwrap(); // the kernel's backlog takes it
    third
        .write_all(b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .unwrap();
    third.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let mut byte = [0u8; 1];
    let early = third.read(&mut byte);
    assert!(
        matches!(&early, Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)),
        "no answer while two connections are open: {early:?}"
    );
    drop(first);
    drop(second);
    third.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut answer = String::new();
    third.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 503"),
        "answered once below the cap: {answer}"
    );
}

fn write_profiles(dir: &Path, titles: &[&str]) -> PathBuf {
    let path = dir.join("alliance.jsonl");
    let lines: Vec<String> = titles
        .iter()
        .enumerate()
        .map(|(i, title)| {
            serde_json::json!({
                "id": format!("alliance:profile:{i}"),
                "kind": "profile",
                "source": "alliance",
                "labels": { "en": { "preferred": title } },
            })
            .to_string()
        })
        .collect();
    std::fs::write(&path, lines.join("\n")).unwrap();
    path
}

fn build_text_only(data: &Path, root: &Path) {
    index::build(
        &[data.to_path_buf()],
        root,
        IngestOptions::default(),
        None,
        &index::NoProgress,
    )
    .unwrap();
}

fn get_json(app: &axum::Router, uri: &str) -> serde_json::Value {
    use tower::ServiceExt;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let request = axum::http::Request::builder()
            .uri(uri)
            .body(axum::body::Body::empty())
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    })
}

#[test]
fn a_new_generation_is_picked_up_without_a_restart_and_the_old_one_is_kept_while_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("index");
    let data = write_profiles(dir.path(), &["data steward", "cloud architect"]);
    build_text_only(&data, &root);
    let loader_root = root.clone();
    let load = move || Loaded::new(Searcher::text_only(OccuIndex::open(&loader_root)?));
    let options = ServerOptions {
        reload_every: Some(Duration::from_millis(100)),
        ..ServerOptions::default()
    };
    let state = Arc::new(AppState::reloading_from(root.clone(), Box::new(load), &options));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let _watcher = {
        let _entered = runtime.enter();
        occusearch::server::watch_generations(state.clone(), options.reload_every)
    };
    let app = occusearch::server::router(state, options);
    let wait_for = |what: &str, ready: &dyn Fn() -> bool| {
        let started = Instant::now();
        while !ready() {
            assert!(started.elapsed() < Duration::from_secs(30), "{what}: not within 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_for("first load", &|| get_json(&app, "/health")["status"] == "ok");
    let first = get_json(&app, "/health")["generation"].as_str().unwrap().to_string();
    assert_eq!(get_json(&app, "/search?q=zzmarkerprofession")["total"], 0);

    // A rebuild with a marker concept; the server sees it by itself.
    write_profiles(dir.path(), &["data steward", "cloud architect", "zzmarkerprofession"]);
    build_text_only(&data, &root);
    wait_for("reload", &|| {
        get_json(&app, "/search?q=zzmarkerprofession")["total"] == 1
    });
    let health = get_json(&app, "/health");
    assert_ne!(health["generation"], first.as_str(), "{health}");
    assert_eq!(get_json(&app, "/stats")["generation"], health["generation"]);

    // A generation still open somewhere (a request in flight, another server) is not pruned.
    let in_use = OccuIndex::open(&root).unwrap();
    let held = in_use.dir.clone();
    for _ in 0..3 {
        build_text_only(&data, &root);
    }
    assert!(held.exists(), "pruned from under an open index");
    drop(in_use);
    let current = || {
        std::fs::canonicalize(root.join("current"))
            .ok()
            .and_then(|c| c.file_name().map(|n| n.to_string_lossy().into_owned()))
    };
    // The server itself holds the generation it serves: let it move to the newest first.
    wait_for("the server on the newest generation", &|| {
        get_json(&app, "/health")["generation"].as_str().map(str::to_string) == current()
    });
    build_text_only(&data, &root);
    assert!(!held.exists(), "pruned once nobody holds it");
}

/// CPU seconds a process has used (user + system), from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0 // USER_HZ, fixed at 100 by the Linux ABI
}

/// Kills the server child when the test ends, however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let (status, _, body) = raw_exchange(addr, request.as_bytes());
    (status, body)
}

#[test]
fn expensive_work_stops_at_its_deadline_instead_of_running_on() {
    // The real server binary over the real-model index, so that its CPU time is its own.
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    crate::embedding::model(); // fails with advice when the model is missing
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_occusearch"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--timeout",
            "1",
            "--max-heavy",
            "4",
            "--index",
        ])
        .arg(crate::vector_search::root())
        .arg("--models")
        .arg(&models)
        .env_remove("OCCUSEARCH_MODEL")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take();
    let child = Child(child);
    let pid = child.0.id();
    let (found, addr) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr.unwrap()).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("occusearch listening on http://") {
                let _ = found.send(rest.split_whitespace().next().unwrap().parse::<SocketAddr>().unwrap());
            }
        }
    });
    let addr = addr
        .recv_timeout(Duration::from_secs(60))
        .expect("the server did not start");
    let started = Instant::now();
    while http(addr, "GET", "/health", "").0 != 200 {
        assert!(started.elapsed() < Duration::from_secs(120), "the index did not load");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Four matches of 100 distinct free texts each (the documented maximum): each text is a
    // hybrid search with its own embedding, seconds of work per request on two cores.
    let replies: Vec<u16> = (0..4)
        .map(|request| {
            std::thread::spawn(move || {
                let skills: Vec<String> = (0..100)
                    .map(|i| format!("skill number {i} of request {request}: manage network security audits"))
                    .collect();
                http(
                    addr,
                    "POST",
                    "/match",
                    &serde_json::json!({ "skills": skills }).to_string(),
                )
                .0
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    assert!(
        replies.iter().all(|&s| s == 408),
        "every request outlived its 1 s: {replies:?}"
    );
    // Work checks the deadline between searches: give stragglers a moment, then the server must
    // be idle (the generation watcher reads a link every 2 s, nothing more).
    std::thread::sleep(Duration::from_millis(1500));
    let before = cpu_seconds(pid);
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_seconds(pid) - before;
    assert!(
        used < 0.3,
        "the server kept computing after its replies: {used:.2} s of CPU in 2 s"
    );
    // And it still answers.
    assert_eq!(http(addr, "GET", "/health", "").0, 200);
}
