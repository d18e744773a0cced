//! Load benchmark of the HTTP service over loopback: latency percentiles and throughput.
//!
//! `cargo bench --bench http_load` starts the real router (the same one `occusearch serve` runs)
//! on 127.0.0.1 with the index that `scripts/setup` builds (`index/`, or OCCUSEARCH_BENCH_INDEX)
//! and the model in `models/` (or OCCUSEARCH_MODELS), then drives it with keep-alive HTTP/1.1
//! clients written here (no load tool to install). Queries are real national job titles, the
//! MELO dev queries in `../shared/eval/melo-dev` (or OCCUSEARCH_BENCH_QUERIES), shuffled with a
//! fixed seed, so every "distinct" request embeds a query the server has not seen; "repeated"
//! phases replay queries already asked, which the server's query-vector cache answers. "hybrid"
//! phases search every kind (both models embed the query); "job-title" phases ask for
//! occupations and ISCO groups, as the product benchmark does (one model).
//! Clients and server share the machine's cores, as they would on one host.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use occusearch::embed::SessionPlan;
use occusearch::server::{router, AppState, Loaded, ServerOptions};

const ONE_CLIENT_REQUESTS: usize = 400;
const CONCURRENT_CLIENTS: usize = 8;
const CONCURRENT_REQUESTS: usize = 1600;

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One keep-alive HTTP/1.1 connection.
struct Client {
    reader: BufReader<TcpStream>,
    line: String,
}

impl Client {
    async fn connect(address: std::net::SocketAddr) -> Client {
        let stream = TcpStream::connect(address).await.expect("connecting");
        stream.set_nodelay(true).expect("nodelay");
        Client {
            reader: BufReader::new(stream),
            line: String::new(),
        }
    }

    /// Sends a GET and reads the whole response; returns the status.
    async fn get(&mut self, path: &str) -> u16 {
        let request = format!("GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n");
        self.reader
            .get_mut()
            .write_all(request.as_bytes())
            .await
            .expect("writing");
        self.line.clear();
        self.reader.read_line(&mut self.line).await.expect("status line");
        let status: u16 = self
            .line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {:?}", self.line));
        let mut length = None;
        loop {
            self.line.clear();
            self.reader.read_line(&mut self.line).await.expect("header");
            let header = self.line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse::<usize>().ok();
                }
            }
        }
        let length = length.expect("the server sends content-length");
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).await.expect("body");
        status
    }
}

struct Phase {
    latencies_ms: Vec<f64>,
    errors: usize,
    wall: Duration,
}

impl Phase {
    fn report(mut self, name: &str, clients: usize) {
        self.latencies_ms.sort_by(f64::total_cmp);
        let count = self.latencies_ms.len();
        let at = |q: f64| self.latencies_ms[((count - 1) as f64 * q).round() as usize];
        println!(
            "{name:<46} clients {clients}  requests {count:>5}  errors {:>3}  {:>7.1} req/s  p50 {:>6.2} ms  p90 {:>6.2} ms  p99 {:>6.2} ms  max {:>6.2} ms",
            self.errors,
            count as f64 / self.wall.as_secs_f64(),
            at(0.5),
            at(0.9),
            at(0.99),
            at(1.0),
        );
    }
}

/// `clients` connections take the next path from `paths` until none is left.
async fn drive(address: std::net::SocketAddr, paths: Arc<Vec<String>>, clients: usize) -> Phase {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (paths, next) = (paths.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut client = Client::connect(address).await;
            let mut latencies = Vec::new();
            let mut errors = 0;
            loop {
                let position = next.fetch_add(1, Ordering::Relaxed);
                let Some(path) = paths.get(position) else {
                    break;
                };
                let sent = Instant::now();
                let status = client.get(path).await;
                latencies.push(sent.elapsed().as_secs_f64() * 1e3);
                if status != 200 {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    let mut phase = Phase {
        latencies_ms: Vec::new(),
        errors: 0,
        wall: Duration::ZERO,
    };
    for task in tasks {
        let (latencies, errors) = task.await.expect("client task");
        phase.latencies_ms.extend(latencies);
        phase.errors += errors;
    }
    phase.wall = started.elapsed();
    phase
}

/// `/search` for each query with `parameters` appended: `EVERY_KIND` (both models embed the query)
/// or `JOB_TITLES`, the product benchmark's request (occupations and ISCO groups: one model).
fn search_paths(queries: &[String], parameters: &str) -> Arc<Vec<String>> {
    Arc::new(
        queries
            .iter()
            .map(|q| format!("/search?q={}&{parameters}", encode(q)))
            .collect(),
    )
}

const EVERY_KIND: &str = "mode=hybrid&limit=10";
const JOB_TITLES: &str = "kind=occupation,isco-group&limit=10";

/// What a user types, keystroke by keystroke: every prefix of the first word(s) from 1 to 12
/// characters.
fn suggest_paths(queries: &[String]) -> Arc<Vec<String>> {
    let mut paths = Vec::new();
    for query in queries {
        let characters: Vec<char> = query.chars().collect();
        for end in 1..=characters.len().min(12) {
            let prefix: String = characters[..end].iter().collect();
            paths.push(format!("/suggest?q={}&limit=8", encode(&prefix)));
        }
    }
    Arc::new(paths)
}

fn main() {
    // OCCUSEARCH_BENCH_SESSIONS=SxT: S model sessions of T threads each (default: one on every core).
    let plan = std::env::var("OCCUSEARCH_BENCH_SESSIONS")
        .ok()
        .and_then(|v| {
            let (sessions, threads) = v.split_once('x')?;
            Some(SessionPlan {
                sessions: sessions.parse().ok()?,
                threads_per_session: Some(threads.parse().ok()?),
            })
        })
        .unwrap_or_default();
    println!("model sessions: {plan:?}");
    let searcher = common::open_vector_searcher_with(plan);
    let concepts = searcher.index.manifest.concepts;
    let loaded = Loaded::new(searcher).expect("loading the catalogue");
    let state = Arc::new(AppState::with(loaded));
    let queries = common::melo_queries(&common::path_from(
        "OCCUSEARCH_BENCH_QUERIES",
        "../shared/eval/melo-dev",
    ));
    let needed = 20 + 2 * (ONE_CLIENT_REQUESTS + CONCURRENT_REQUESTS);
    assert!(queries.len() >= needed, "{} queries, {needed} needed", queries.len());

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binding");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move {
            axum::serve(listener, router(state, ServerOptions::default()))
                .await
                .expect("serving")
        });
        println!(
            "occusearch HTTP load on {address}: index of {concepts} concepts, {} cores, queries from MELO dev ({} distinct)",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            queries.len()
        );
        let (warm_up, rest) = queries.split_at(20);
        let (one_client, rest) = rest.split_at(ONE_CLIENT_REQUESTS);
        let (concurrent, rest) = rest.split_at(CONCURRENT_REQUESTS);
        let (titles_one_client, rest) = rest.split_at(ONE_CLIENT_REQUESTS);
        let titles_concurrent = &rest[..CONCURRENT_REQUESTS];
        drive(address, search_paths(warm_up, EVERY_KIND), 1).await;
        // OCCUSEARCH_BENCH_ONLY=job-title runs the job-title phases alone (to profile them).
        let job_titles_only = std::env::var("OCCUSEARCH_BENCH_ONLY").is_ok_and(|v| v == "job-title");
        if !job_titles_only {
            every_kind_phases(address, one_client, concurrent).await;
        }
        drive(address, search_paths(titles_one_client, JOB_TITLES), 1)
            .await
            .report("job-title /search, distinct queries", 1);
        drive(address, search_paths(titles_concurrent, JOB_TITLES), CONCURRENT_CLIENTS)
            .await
            .report("job-title /search, distinct queries", CONCURRENT_CLIENTS);
        if job_titles_only {
            return;
        }
        let typed = suggest_paths(&one_client[..100]);
        drive(address, typed.clone(), 1)
            .await
            .report("/suggest, every keystroke", 1);
        drive(address, typed, CONCURRENT_CLIENTS)
            .await
            .report("/suggest, every keystroke", CONCURRENT_CLIENTS);
    });
}

/// The phases that search every kind: distinct and repeated queries, one client and eight.
async fn every_kind_phases(address: std::net::SocketAddr, one_client: &[String], concurrent: &[String]) {
    drive(address, search_paths(one_client, EVERY_KIND), 1)
        .await
        .report("hybrid /search, distinct queries", 1);
    drive(address, search_paths(one_client, EVERY_KIND), 1)
        .await
        .report("hybrid /search, repeated queries (cached)", 1);
    drive(address, search_paths(concurrent, EVERY_KIND), CONCURRENT_CLIENTS)
        .await
        .report("hybrid /search, distinct queries", CONCURRENT_CLIENTS);
    let repeated: Vec<String> = concurrent.iter().chain(concurrent).cloned().collect();
    drive(address, search_paths(&repeated, EVERY_KIND), CONCURRENT_CLIENTS)
        .await
        .report("hybrid /search, repeated queries (cached)", CONCURRENT_CLIENTS);
}
