//! The HTTP service (axum on hyper and tokio): one shared read-only index generation, loaded in
//! the background while the server already answers (503 until then) and swapped for a new
//! generation when a rebuild makes one current (requests in flight finish on the old one, which
//! is dropped after). Every search, match and similarity computation runs on the blocking pool,
//! never on the async threads; expensive requests are admitted up to a bound (503 `overloaded`
//! beyond it) and stop at their deadline. Body size, time, header wait and open connections are
//! limited; every error, the HTTP layer's included, has a JSON body; shutdown waits for requests
//! in flight.

mod conn;
pub mod dto;
pub mod error;
mod facets;
mod openapi;
mod web;

pub use conn::ConnectionLimits;
pub use openapi::document as openapi_document;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
// serde_html_form underneath: repeated keys (`kind=a&kind=b`) fill a Vec, which serde_urlencoded
// (axum's own Query) rejects.
use axum_extra::extract::{Query, QueryRejection};
use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{Error, Result};
use crate::ingest::Catalog;
use crate::search::matching::{self, MatchQuery, MaterialsRequest, RelationGraph};
use crate::search::similar::{self, SimilarRequest, SimilarTo};
use crate::search::suggest::Suggester;
use crate::search::{self, Mode, SearchRequest, Searcher};
use crate::types::{Deadline, Kind};
use dto::*;
use error::{code_for_status, ApiError};

/// Limits and switches of the service (`occusearch serve` fills them from its flags).
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub request_timeout: Duration,
    pub max_body_bytes: usize,
    /// Expensive requests (match, materials, similar, duplicates) computed at once; more get
    /// 503 `overloaded` with `Retry-After`, so that searches stay fast meanwhile.
    pub max_heavy: usize,
    pub connections: ConnectionLimits,
    /// How often the server looks for a new current generation (`None`: never).
    pub reload_every: Option<Duration>,
    /// Bearer token of `POST /admin/reload`; without one the admin routes do not exist.
    pub admin_token: Option<String>,
    /// Origins of other sites whose pages may call the API (CORS); empty: none (the default,
    /// the page served at `/` needs none).
    pub cors_origins: Vec<HeaderValue>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            request_timeout: Duration::from_secs(10),
            max_body_bytes: 64 * 1024,
            max_heavy: std::thread::available_parallelism().map_or(2, usize::from),
            connections: ConnectionLimits {
                header_timeout: Duration::from_secs(10),
                max_connections: 1024,
                shutdown_grace: Duration::from_secs(30),
            },
            reload_every: Some(Duration::from_secs(2)),
            admin_token: None,
            cors_origins: Vec::new(),
        }
    }
}

/// The parameters a duplicates answer depends on (with the generation, which owns the cache).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct DuplicatesKey {
    kinds: Vec<Kind>,
    min_similarity_bits: u32,
    cross_source: bool,
}

/// Duplicates answers kept per generation: up to ~10 MB of JSON each, computed in seconds.
const DUPLICATES_CACHED: usize = 16;

/// Everything a loaded index generation answers with.
pub struct Loaded {
    pub searcher: Searcher,
    pub catalog: Catalog,
    pub graph: RelationGraph,
    pub suggester: Suggester,
    facets: facets::FacetIndex,
    /// Serialised duplicates answers: they depend only on the generation and the parameters.
    /// `get_or_insert_with` computes each once even when many ask at the same time.
    duplicates: quick_cache::sync::Cache<DuplicatesKey, Bytes>,
}

impl Loaded {
    /// Loads the catalogue and builds the lookup structures (a few seconds on the full index).
    pub fn new(searcher: Searcher) -> Result<Loaded> {
        let catalog = searcher.index.load_catalog()?;
        let graph = RelationGraph::new(&catalog);
        let suggester = Suggester::new(&catalog);
        let facets = facets::FacetIndex::new(&catalog);
        Ok(Loaded {
            searcher,
            catalog,
            graph,
            suggester,
            facets,
            duplicates: quick_cache::sync::Cache::new(DUPLICATES_CACHED),
        })
    }

    /// The generation's directory name (`gen-…`).
    pub fn generation(&self) -> String {
        generation_name(&self.searcher.index.dir)
    }
}

fn generation_name(dir: &Path) -> String {
    dir.file_name()
        .map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// Loads the current generation under an index root (opens the index, the model, the catalogue).
pub type Loader = dyn Fn() -> Result<Loaded> + Send + Sync;

/// Where new generations come from: the index root and how to load its current one.
struct Generations {
    root: PathBuf,
    load: Box<Loader>,
    /// A generation that failed to load, not tried again until another becomes current.
    failed: Mutex<Option<PathBuf>>,
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reload {
    Unchanged { generation: String },
    Loaded { from: Option<String>, to: String },
}

/// Shared state: the loaded generation (absent until loading finishes or when it failed), where
/// new ones come from, and the admission bound of expensive requests.
pub struct AppState {
    loaded: RwLock<Option<Arc<Loaded>>>,
    load_error: RwLock<Option<String>>,
    generations: Option<Generations>,
    /// One reload at a time (the watcher and `POST /admin/reload`).
    reloading: Mutex<()>,
    heavy: Arc<Semaphore>,
    request_timeout: Duration,
    admin_token: Option<String>,
}

impl Default for AppState {
    fn default() -> Self {
        AppState::new(&ServerOptions::default())
    }
}

impl AppState {
    /// An empty state with the limits of `options`; [`AppState::set`] or a reload fills it.
    pub fn new(options: &ServerOptions) -> AppState {
        AppState {
            loaded: RwLock::new(None),
            load_error: RwLock::new(None),
            generations: None,
            reloading: Mutex::new(()),
            heavy: Arc::new(Semaphore::new(options.max_heavy.max(1))),
            request_timeout: options.request_timeout,
            admin_token: options.admin_token.clone().filter(|t| !t.is_empty()),
        }
    }

    pub fn with(loaded: Loaded) -> AppState {
        let state = AppState::default();
        state.set(loaded);
        state
    }

    /// A state that loads the current generation under `root` with `load`, now and whenever
    /// another becomes current ([`AppState::reload`]).
    pub fn reloading_from(root: PathBuf, load: Box<Loader>, options: &ServerOptions) -> AppState {
        AppState {
            generations: Some(Generations {
                root,
                load,
                failed: Mutex::new(None),
            }),
            ..AppState::new(options)
        }
    }

    pub fn set(&self, loaded: Loaded) {
        if let Ok(mut slot) = self.loaded.write() {
            *slot = Some(Arc::new(loaded));
        }
        if let Ok(mut error) = self.load_error.write() {
            *error = None;
        }
    }

    pub fn set_error(&self, message: String) {
        if let Ok(mut slot) = self.load_error.write() {
            *slot = Some(message);
        }
    }

    fn current(&self) -> Option<Arc<Loaded>> {
        self.loaded.read().ok().and_then(|slot| slot.clone())
    }

    fn get(&self) -> std::result::Result<Arc<Loaded>, ApiError> {
        self.current().ok_or_else(|| {
            let failed = self.load_error.read().ok().and_then(|e| e.clone());
            let message = match failed {
                Some(_) => "no index is loaded (loading failed; see the server log)",
                None => "the index is still loading",
            };
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "no_index", message)
        })
    }

    /// Loads the current generation when it is not the one loaded (blocking: call it off the
    /// async threads). The old generation stays in use by requests in flight and is dropped
    /// with the last of them. A generation that fails to load is logged, kept out, and not
    /// retried until another becomes current.
    pub fn reload(&self) -> Result<Reload> {
        let generations = self
            .generations
            .as_ref()
            .ok_or_else(|| Error::Unavailable("this server was given one index, not an index root".into()))?;
        let _one_at_a_time = self
            .reloading
            .lock()
            .map_err(|_| Error::Internal("reload lock poisoned".into()))?;
        let current = crate::index::resolve(&generations.root)?;
        let loaded = self.current();
        let from = loaded.as_ref().map(|l| l.searcher.index.dir.clone());
        if from.as_deref() == Some(current.as_path()) {
            return Ok(Reload::Unchanged {
                generation: generation_name(&current),
            });
        }
        let mut failed = generations
            .failed
            .lock()
            .map_err(|_| Error::Internal("reload lock poisoned".into()))?;
        if failed.as_deref() == Some(current.as_path()) {
            return Err(Error::Unavailable(format!(
                "generation {} failed to load before; waiting for another",
                generation_name(&current)
            )));
        }
        match (generations.load)() {
            Ok(new) => {
                let to = new.generation();
                tracing::info!(from = ?from.as_deref().map(generation_name), %to, "index generation loaded");
                self.set(new);
                *failed = None;
                Ok(Reload::Loaded {
                    from: from.as_deref().map(generation_name),
                    to,
                })
            }
            Err(error) => {
                *failed = Some(current);
                if loaded.is_none() {
                    self.set_error(error.to_string());
                }
                Err(error)
            }
        }
    }

    /// Admits one expensive request, or answers 503 `overloaded`.
    fn admit_heavy(&self) -> std::result::Result<OwnedSemaphorePermit, ApiError> {
        self.heavy
            .clone()
            .try_acquire_owned()
            .map_err(|_| ApiError::overloaded(1))
    }
}

type Shared = Arc<AppState>;

/// Runs `work` on the blocking pool with the loaded generation and the request's deadline.
async fn blocking<T, F>(state: &Shared, work: F) -> std::result::Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Loaded, Deadline) -> std::result::Result<T, ApiError> + Send + 'static,
{
    let loaded = state.get()?;
    let deadline = Deadline::after(state.request_timeout);
    tokio::task::spawn_blocking(move || unless_late(deadline, || work(&loaded, deadline)))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "blocking task failed");
            ApiError::internal()
        })?
}

/// `work`, unless `deadline` passed before it could start: a request that waited for a blocking
/// thread longer than its time (an overloaded pool) has had its 408 already, and a search that
/// nobody reads would only delay the requests queued behind it. Long work checks the deadline
/// again as it goes; a single search (milliseconds) is not interrupted once started.
fn unless_late<T>(
    deadline: Deadline,
    work: impl FnOnce() -> std::result::Result<T, ApiError>,
) -> std::result::Result<T, ApiError> {
    deadline.check("the request waited for a worker thread past its time and")?;
    work()
}

/// Like [`blocking`] for an expensive request: admitted first (or 503), the permit held until
/// the work itself ends, not only until the client got its answer.
async fn heavy<T, F>(state: &Shared, work: F) -> std::result::Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Loaded, Deadline) -> std::result::Result<T, ApiError> + Send + 'static,
{
    let permit = state.admit_heavy()?;
    blocking(state, move |loaded, deadline| {
        let answer = work(loaded, deadline);
        drop(permit);
        answer
    })
    .await
}

fn query_params<T>(query: std::result::Result<Query<T>, QueryRejection>) -> std::result::Result<T, ApiError> {
    query
        .map(|Query(q)| q)
        .map_err(|rejection| ApiError::bad_request(rejection.body_text()))
}

fn json_body<T>(body: std::result::Result<Json<T>, JsonRejection>) -> std::result::Result<T, ApiError> {
    body.map(|Json(b)| b).map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is larger than the server accepts",
            )
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", rejection.body_text())
        }
    })
}

/// Builds the router over `state`.
pub fn router(state: Shared, options: ServerOptions) -> Router {
    let mut routes = Router::new()
        .route("/health", get(health))
        .route("/stats", get(stats))
        .route("/openapi.json", get(openapi_handler))
        .route("/search", get(search_handler))
        .route("/suggest", get(suggest_handler))
        .route("/occupations/{id}", entity_route(&[Kind::Occupation], "occupation"))
        .route("/skills/{id}", entity_route(&[Kind::Skill, Kind::SkillGroup], "skill"))
        .route("/profiles/{id}", entity_route(&[Kind::Profile], "profile"))
        .route("/materials/{id}", entity_route(&[Kind::Material], "material"))
        .route("/concepts/{id}", entity_route(&[], "concept"))
        .route("/match", post(match_handler))
        .route("/materials/for-skills", post(materials_handler))
        .route("/similar", post(similar_handler))
        .route("/duplicates", get(duplicates_handler));
    if state.admin_token.is_some() {
        routes = routes.route("/admin/reload", post(reload_handler));
    }
    let routes = routes
        .merge(web::routes())
        .fallback(|| async { ApiError::not_found("no such endpoint (see /openapi.json)") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not answer this method (see /openapi.json)",
            )
        });
    let routes = limited(routes, &options);
    let routes = if options.cors_origins.is_empty() {
        routes
    } else {
        // tower-http refuses `*` inside a list: any origin is its own setting.
        let origins = if options.cors_origins.iter().any(|o| o == "*") {
            tower_http::cors::AllowOrigin::any()
        } else {
            tower_http::cors::AllowOrigin::list(options.cors_origins.clone())
        };
        // Outermost, so preflights and error responses carry the headers too.
        routes.layer(
            tower_http::cors::CorsLayer::new()
                .allow_origin(origins)
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([header::CONTENT_TYPE])
                .max_age(Duration::from_secs(3600)),
        )
    };
    routes.with_state(state)
}

/// Parses a `--cors-origin` value: a scheme, a host and an optional port, nothing more
/// (`https://example.org`, `http://localhost:3000`), or `*` for any origin.
pub fn parse_cors_origin(text: &str) -> std::result::Result<HeaderValue, String> {
    let text = text.trim().trim_end_matches('/');
    let valid = text == "*"
        || ["http://", "https://"].iter().any(|scheme| {
            text.strip_prefix(scheme)
                .is_some_and(|host| !host.is_empty() && !host.contains(['/', '?', '#', ' ', '@']))
        });
    if !valid {
        return Err(format!(
            "--cors-origin {text:?} is not an origin such as https://example.org or http://localhost:3000"
        ));
    }
    HeaderValue::from_str(text).map_err(|e| format!("--cors-origin {text:?}: {e}"))
}

/// The limits every route shares: body size and time; and JSON for every error.
fn limited<S>(routes: Router<S>, options: &ServerOptions) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    routes
        .layer(DefaultBodyLimit::max(options.max_body_bytes))
        .layer(middleware::from_fn_with_state(options.request_timeout, limit_time))
        .layer(middleware::map_response(json_errors))
}

/// Answers 408 with the usual error body when a request takes longer than allowed. Work on the
/// blocking pool cannot be interrupted from here: it checks the same deadline and stops.
async fn limit_time(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            format!("the request took longer than {} ms", limit.as_millis()),
        )
        .into_response(),
    }
}

/// Gives every error response without a JSON body one: rejections of axum's extractors (a bad
/// path segment), its 405, anything a layer answers by itself. Headers such as `Allow` stay.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // The text axum wrote (e.g. "Invalid URL: …") is the best message there is; short, so read it.
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let message = match std::str::from_utf8(&text).map(str::trim) {
        Ok(text) if !text.is_empty() => text.to_string(),
        _ => status.canonical_reason().unwrap_or("error").to_lowercase(),
    };
    let replacement = ApiError::new(status, code_for_status(status), message).into_response();
    let (replacement_parts, body) = replacement.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    for (name, value) in replacement_parts.headers.iter() {
        parts.headers.insert(name, value.clone());
    }
    Response::from_parts(parts, body)
}

async fn health(State(state): State<Shared>) -> (StatusCode, Json<serde_json::Value>) {
    match state.get() {
        Ok(loaded) => (
            StatusCode::OK,
            Json(json!({
                "status": "ok",
                "generation": loaded.generation(),
                "vectors": loaded.searcher.vectors_available(),
                "vector_unavailable": loaded.searcher.vector_unavailable(),
            })),
        ),
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "loading", "message": error.message })),
        ),
    }
}

async fn stats(State(state): State<Shared>) -> std::result::Result<Json<serde_json::Value>, ApiError> {
    let loaded = state.get()?;
    let index = &loaded.searcher.index;
    Ok(Json(json!({
        "generation": loaded.generation(),
        "index": index.dir,
        "manifest": index.manifest,
        "vectors_available": loaded.searcher.vectors_available(),
        "vector_unavailable": loaded.searcher.vector_unavailable(),
        "suggest_languages": loaded.suggester.languages().collect::<Vec<_>>(),
    })))
}

async fn openapi_handler() -> Json<serde_json::Value> {
    Json(openapi::document())
}

async fn search_handler(
    State(state): State<Shared>,
    params: std::result::Result<Query<SearchParams>, QueryRejection>,
) -> std::result::Result<Json<SearchResponse>, ApiError> {
    let params = query_params(params)?;
    let limit = parse_limit(params.limit, 10)?;
    let mode = match params.mode.as_deref() {
        None => None,
        Some(text) => Some(
            Mode::parse(text)
                .ok_or_else(|| ApiError::bad_request(format!("mode {text:?} is not text, vector or hybrid")))?,
        ),
    };
    let request = SearchRequest {
        query: params.q.clone(),
        lang: params.lang.as_deref().map(|l| parse_lang(Some(l), "en")).transpose()?,
        kinds: parse_kinds(params.kind.iter())?,
        source: params.source,
        isco: params.isco,
        eqf: params.eqf,
        limit,
        offset: params.offset.unwrap_or(0),
        mode,
    };
    blocking(&state, move |loaded, _deadline| {
        let results = loaded.searcher.search(&request)?;
        Ok(Json(SearchResponse {
            query: request.query,
            mode: results.mode,
            notice: results.notice,
            total: results.candidates,
            offset: request.offset,
            limit: request.limit,
            facets: loaded.facets.count(&results.candidate_ids),
            hits: results.hits,
        }))
    })
    .await
}

async fn suggest_handler(
    State(state): State<Shared>,
    params: std::result::Result<Query<SuggestParams>, QueryRejection>,
) -> std::result::Result<Json<SuggestResponse>, ApiError> {
    let params = query_params(params)?;
    let lang = parse_lang(params.lang.as_deref(), "en")?;
    let kinds = parse_kinds(params.kind.iter())?;
    let limit = parse_limit(params.limit, 8)?;
    if params.q.chars().count() > search::MAX_QUERY_CHARS {
        return Err(ApiError::bad_request("q is too long"));
    }
    // Usually a binary search and a short scan, but a typo-tolerant scan can take milliseconds:
    // off the async threads like every other index lookup.
    blocking(&state, move |loaded, _deadline| {
        let suggestions = loaded.suggester.suggest(&params.q, lang.as_str(), &kinds, limit);
        Ok(Json(SuggestResponse {
            query: params.q,
            lang: lang.to_string(),
            suggestions,
        }))
    })
    .await
}

async fn entity(
    state: Shared,
    id: String,
    params: std::result::Result<Query<EntityParams>, QueryRejection>,
    kinds: &'static [Kind],
    what: &'static str,
) -> std::result::Result<Json<search::ConceptView>, ApiError> {
    let params = query_params(params)?;
    let lang = parse_lang(params.lang.as_deref(), "en")?;
    blocking(&state, move |loaded, _deadline| {
        let view = search::show(&loaded.catalog, &id, &lang)?;
        if !kinds.is_empty() && !kinds.contains(&view.kind) {
            return Err(ApiError::not_found(format!(
                "{id:?} is a {}, not a {what}",
                view.kind.as_str()
            )));
        }
        Ok(Json(view))
    })
    .await
}

/// `GET /{collection}/{id}` for concepts of `kinds` (any kind when empty).
fn entity_route(kinds: &'static [Kind], what: &'static str) -> MethodRouter<Shared> {
    get(
        move |State(state): State<Shared>,
              UrlPath(id): UrlPath<String>,
              params: std::result::Result<Query<EntityParams>, QueryRejection>| {
            entity(state, id, params, kinds, what)
        },
    )
}

async fn match_handler(
    State(state): State<Shared>,
    body: std::result::Result<Json<MatchBody>, JsonRejection>,
) -> std::result::Result<Json<MatchResponse>, ApiError> {
    let body = json_body(body)?;
    let lang = parse_lang(body.lang.as_deref(), "en")?;
    let kinds = match &body.kind {
        Some(kinds) => parse_kinds(kinds.iter())?,
        None => vec![Kind::Occupation, Kind::Profile],
    };
    let limit = parse_limit(body.limit, 10)?;
    heavy(&state, move |loaded, deadline| {
        let query = MatchQuery {
            skills: &body.skills,
            lang: &lang,
            kinds: &kinds,
            limit,
            deadline,
        };
        let outcome = matching::match_texts(&loaded.searcher, &loaded.catalog, &loaded.graph, query)?;
        Ok(Json(MatchResponse {
            resolved: outcome.resolved,
            unresolved: outcome.unresolved,
            matches: outcome.matches,
        }))
    })
    .await
}

async fn materials_handler(
    State(state): State<Shared>,
    body: std::result::Result<Json<MaterialsBody>, JsonRejection>,
) -> std::result::Result<Json<MaterialsResponse>, ApiError> {
    let body = json_body(body)?;
    let lang = parse_lang(body.lang.as_deref(), "en")?;
    let limit = parse_limit(body.limit, 10)?;
    heavy(&state, move |loaded, deadline| {
        let request = MaterialsRequest {
            skills: &body.skills,
            eqf: body.eqf,
            lang: &lang,
            limit,
            deadline,
        };
        let outcome = matching::materials_for_texts(&loaded.searcher, &loaded.catalog, &loaded.graph, request)?;
        Ok(Json(MaterialsResponse {
            resolved: outcome.resolved,
            unresolved: outcome.unresolved,
            materials: outcome.materials,
        }))
    })
    .await
}

async fn similar_handler(
    State(state): State<Shared>,
    body: std::result::Result<Json<SimilarBody>, JsonRejection>,
) -> std::result::Result<Json<SimilarResponse>, ApiError> {
    let body = json_body(body)?;
    let lang = parse_lang(body.lang.as_deref(), "en")?;
    let kinds = parse_kinds(body.kind.iter().flatten())?;
    let limit = parse_limit(body.limit, 10)?;
    // Checked before admission: a bad request costs no expensive slot.
    SimilarTo::from_parts(body.text.as_deref(), body.id.as_deref())?;
    heavy(&state, move |loaded, deadline| {
        let to = SimilarTo::from_parts(body.text.as_deref(), body.id.as_deref())?;
        let request = SimilarRequest {
            to,
            kinds: &kinds,
            lang: &lang,
            limit,
            deadline,
        };
        let similar = similar::similar(&loaded.searcher, &loaded.catalog, &loaded.graph, request)?;
        Ok(Json(SimilarResponse { similar }))
    })
    .await
}

async fn duplicates_handler(
    State(state): State<Shared>,
    params: std::result::Result<Query<DuplicatesParams>, QueryRejection>,
) -> std::result::Result<Response, ApiError> {
    let params = query_params(params)?;
    let mut kinds = parse_kinds(params.kind.iter())?;
    if kinds.is_empty() {
        kinds = vec![Kind::Profile, Kind::Material];
    }
    kinds.sort();
    kinds.dedup();
    let min_similarity = params.min_similarity.unwrap_or(similar::DEFAULT_DUPLICATE_SIMILARITY);
    if !(0.0..=1.0).contains(&min_similarity) {
        return Err(ApiError::bad_request("min_similarity must be within 0 and 1"));
    }
    let cross_source = params.cross_source.unwrap_or(true);
    let key = DuplicatesKey {
        kinds: kinds.clone(),
        min_similarity_bits: min_similarity.to_bits(),
        cross_source,
    };
    // A cached answer costs nothing: no admission needed.
    let cached = state.get()?.duplicates.get(&key);
    let body = match cached {
        Some(body) => body,
        None => {
            heavy(&state, move |loaded, deadline| {
                let compute = || -> std::result::Result<Bytes, ApiError> {
                    let clusters = similar::duplicates(
                        &loaded.searcher,
                        &loaded.graph,
                        &kinds,
                        min_similarity,
                        cross_source,
                        deadline,
                    )?;
                    let response = DuplicatesResponse {
                        kinds,
                        min_similarity,
                        cross_source,
                        clusters,
                    };
                    serde_json::to_vec(&response).map(Bytes::from).map_err(|e| {
                        tracing::error!(error = %e, "duplicates serialisation");
                        ApiError::internal()
                    })
                };
                loaded.duplicates.get_or_insert_with(&key, compute)
            })
            .await?
        }
    };
    Ok((
        [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response())
}

/// `POST /admin/reload` (only when a token is configured): loads the current generation now.
async fn reload_handler(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> std::result::Result<Json<serde_json::Value>, ApiError> {
    let expected = state.admin_token.as_deref().unwrap_or_default();
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if expected.is_empty() || !same_secret(given.as_bytes(), expected.as_bytes()) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "POST /admin/reload needs `Authorization: Bearer <admin token>`",
        ));
    }
    let reloading = state.clone();
    let outcome = tokio::task::spawn_blocking(move || reloading.reload())
        .await
        .map_err(|_| ApiError::internal())??;
    Ok(Json(match outcome {
        Reload::Unchanged { generation } => json!({ "status": "unchanged", "generation": generation }),
        Reload::Loaded { from, to } => json!({ "status": "reloaded", "from": from, "generation": to }),
    }))
}

/// Compares a secret in time that does not depend on where the first difference is.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len() && given.iter().zip(expected).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// Looks for a new current generation every `every`, loading the first one at once.
pub fn watch_generations(state: Shared, every: Option<Duration>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // Logged once per distinct failure, not every `every`.
        let mut last_error = String::new();
        loop {
            let reloading = state.clone();
            match tokio::task::spawn_blocking(move || reloading.reload()).await {
                Ok(Ok(Reload::Loaded { from, to })) => {
                    let loaded = state.current();
                    let vectors = loaded
                        .as_ref()
                        .and_then(|l| l.searcher.vector_unavailable())
                        .map_or("available".to_string(), |r| format!("unavailable ({r})"));
                    let concepts = loaded.map_or(0, |l| l.catalog.concepts.len());
                    match from {
                        None => eprintln!("index loaded: generation {to}, {concepts} concepts; vectors {vectors}"),
                        Some(from) => eprintln!(
                            "index reloaded: generation {from} -> {to}, {concepts} concepts; vectors {vectors}"
                        ),
                    }
                }
                Ok(Ok(Reload::Unchanged { .. })) => {}
                // A generation that failed before, waiting for another: already reported.
                Ok(Err(Error::Unavailable(_))) => {}
                Ok(Err(error)) => {
                    let message = error.to_string();
                    if message != last_error {
                        tracing::error!(%error, "loading an index generation failed");
                        eprintln!("error: loading the index failed: {error}");
                        if state.current().is_none() {
                            state.set_error(message.clone());
                        }
                        last_error = message;
                    }
                }
                Err(error) => tracing::error!(%error, "reload task failed"),
            }
            match every {
                Some(every) => tokio::time::sleep(every).await,
                None => break,
            }
        }
    })
}

/// Serves the index under `root` on `addr` until Ctrl-C or SIGTERM, then lets requests in
/// flight finish. `load` opens the current generation; it runs on the blocking pool after the
/// socket is bound (endpoints answer 503 until it returns) and again whenever another
/// generation becomes current.
pub async fn serve<F>(addr: SocketAddr, options: ServerOptions, root: PathBuf, load: F) -> Result<()>
where
    F: Fn() -> Result<Loaded> + Send + Sync + 'static,
{
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Error::Config(format!("cannot listen on {addr}: {e}")))?;
    let bound = listener.local_addr().map_err(|e| Error::Internal(e.to_string()))?;
    tracing::info!(%bound, "listening; loading the index");
    eprintln!("occusearch listening on http://{bound} (loading the index)");
    let state = Arc::new(AppState::reloading_from(root, Box::new(load), &options));
    serve_on(listener, state, options, shutdown_signal()).await;
    Ok(())
}

/// Serves `state` on a bound `listener` until `shutdown` resolves: the watcher that loads new
/// generations (when `state` has an index root), the router, the connection loop.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    options: ServerOptions,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let watcher = state
        .generations
        .is_some()
        .then(|| watch_generations(state.clone(), options.reload_every));
    let app = router(state, options.clone());
    conn::serve_connections(listener, app, options.connections, shutdown).await;
    if let Some(watcher) = watcher {
        watcher.abort();
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt;

    async fn status_of(app: Router, uri: &str) -> (StatusCode, serde_json::Value) {
        let request = Request::builder().uri(uri).body(Body::empty()).unwrap();
        let response = app.oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        )
    }

    /// A handler that cannot finish inside the limit, whatever the machine's speed: real work
    /// (clustering, embedding) can beat a tiny limit on a fast machine, a minute-long sleep cannot.
    fn slow_and_fast_routes(limit: Duration) -> Router {
        let options = ServerOptions {
            request_timeout: limit,
            ..ServerOptions::default()
        };
        let routes = Router::new()
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    "late"
                }),
            )
            .route("/fast", get(|| async { Json(json!({ "ok": true })) }));
        limited(routes, &options)
    }

    #[test]
    fn work_whose_deadline_passed_before_it_started_is_not_run() {
        let ran = std::cell::Cell::new(0);
        let work = || {
            ran.set(ran.get() + 1);
            Ok::<_, ApiError>("done")
        };
        let late = unless_late(Deadline::after(Duration::ZERO), work);
        let error = late.expect_err("a passed deadline");
        assert_eq!((error.status, error.code), (StatusCode::REQUEST_TIMEOUT, "timeout"));
        assert_eq!(ran.get(), 0, "the work did not start");
        assert_eq!(
            unless_late(Deadline::after(Duration::from_secs(60)), work).ok(),
            Some("done")
        );
        assert_eq!(unless_late(Deadline::NONE, work).ok(), Some("done"));
        assert_eq!(ran.get(), 2);
    }

    #[tokio::test]
    async fn a_request_over_its_time_gets_408_with_an_error_body() {
        let app = slow_and_fast_routes(Duration::from_millis(20));
        let (status, body) = status_of(app.clone(), "/slow").await;
        assert_eq!(status, StatusCode::REQUEST_TIMEOUT, "{body}");
        assert_eq!(body["error"]["code"], "timeout", "{body}");
        assert!(
            body["error"]["message"].as_str().is_some_and(|m| m.contains("20 ms")),
            "{body}"
        );
        let (status, body) = status_of(app, "/fast").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["ok"], true);
    }

    async fn send(app: Router, method: &str, uri: &str, headers: &[(&str, &str)], body: &str) -> Response {
        let mut request = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        app.oneshot(request.body(Body::from(body.to_string())).unwrap())
            .await
            .unwrap()
    }

    async fn json_of(response: Response) -> serde_json::Value {
        assert_eq!(
            response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            Some("application/json"),
            "every error is JSON"
        );
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    fn empty_app(options: ServerOptions) -> (Arc<AppState>, Router) {
        let state = Arc::new(AppState::new(&options));
        (state.clone(), router(state, options))
    }

    #[tokio::test]
    async fn the_page_is_served_at_the_root_with_its_own_assets_only() {
        let (_, app) = empty_app(ServerOptions::default());
        for (uri, content_type) in [
            ("/", "text/html; charset=utf-8"),
            ("/assets/app.js", "text/javascript; charset=utf-8"),
            ("/assets/style.css", "text/css; charset=utf-8"),
        ] {
            // Served even before an index is loaded: the page says what is wrong itself.
            let response = send(app.clone(), "GET", uri, &[], "").await;
            assert_eq!(response.status(), StatusCode::OK, "{uri}");
            let headers = response.headers();
            assert_eq!(headers[header::CONTENT_TYPE], content_type, "{uri}");
            assert!(headers[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .starts_with("default-src 'self'"));
        }
        let response = send(app, "GET", "/assets/nothing.js", &[], "").await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn cors_headers_only_for_the_origins_given() {
        let preflight = [
            ("origin", "https://example.org"),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "content-type"),
        ];
        // Off by default.
        let (_, app) = empty_app(ServerOptions::default());
        let response = send(app, "GET", "/health", &[("origin", "https://example.org")], "").await;
        assert!(response.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
        let options = ServerOptions {
            cors_origins: vec![parse_cors_origin("https://example.org/").unwrap()],
            ..ServerOptions::default()
        };
        let (_, app) = empty_app(options);
        let response = send(app.clone(), "OPTIONS", "/match", &preflight, "").await;
        assert!(response.status().is_success(), "{}", response.status());
        let headers = response.headers();
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://example.org");
        assert!(headers[header::ACCESS_CONTROL_ALLOW_METHODS]
            .to_str()
            .unwrap()
            .contains("POST"));
        // Error answers carry it too (503: no index loaded here), so the caller can read them.
        let response = send(
            app.clone(),
            "GET",
            "/search?q=x",
            &[("origin", "https://example.org")],
            "",
        )
        .await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://example.org"
        );
        // Another origin gets no permission.
        let response = send(app, "GET", "/health", &[("origin", "https://evil.example")], "").await;
        assert!(response.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
        let any = ServerOptions {
            cors_origins: vec![parse_cors_origin("*").unwrap()],
            ..ServerOptions::default()
        };
        let (_, app) = empty_app(any);
        let response = send(app, "GET", "/health", &[("origin", "https://any.example")], "").await;
        assert_eq!(response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        for bad in ["example.org", "https://example.org/path", "ftp://x", "https://", ""] {
            assert!(parse_cors_origin(bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn errors_the_router_makes_by_itself_are_json_with_stable_codes() {
        let (_, app) = empty_app(ServerOptions::default());
        let response = send(app.clone(), "DELETE", "/search?q=x", &[], "").await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert!(response.headers().get(header::ALLOW).is_some(), "Allow stays");
        assert_eq!(json_of(response).await["error"]["code"], "method_not_allowed");
        let response = send(app.clone(), "GET", "/nowhere", &[], "").await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(json_of(response).await["error"]["code"], "not_found");
        // A path segment that is not UTF-8: axum's Path rejection, plain text before.
        let response = send(app.clone(), "GET", "/concepts/%FF", &[], "").await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body = json_of(response).await;
        assert_eq!(body["error"]["code"], "bad_request", "{body}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
        // A body that is not JSON at all, and one without the JSON content type.
        let response = send(
            app.clone(),
            "POST",
            "/match",
            &[("content-type", "application/json")],
            "{",
        )
        .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(json_of(response).await["error"]["code"], "invalid_body");
        let response = send(app, "POST", "/match", &[], r#"{"skills":["x"]}"#).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(json_of(response).await["error"]["code"], "invalid_body");
    }

    #[tokio::test]
    async fn expensive_requests_beyond_the_bound_get_503_overloaded_with_retry_after() {
        let (state, app) = empty_app(ServerOptions {
            max_heavy: 1,
            ..ServerOptions::default()
        });
        let held = state.admit_heavy().unwrap();
        let response = send(
            app.clone(),
            "POST",
            "/similar",
            &[("content-type", "application/json")],
            r#"{"text":"data scientist"}"#,
        )
        .await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
            Some("1")
        );
        assert_eq!(json_of(response).await["error"]["code"], "overloaded");
        // Searches are not bounded by it (here: no index yet, so 503 no_index, not overloaded).
        let response = send(app.clone(), "GET", "/search?q=x", &[], "").await;
        assert_eq!(json_of(response).await["error"]["code"], "no_index");
        drop(held);
        let response = send(
            app,
            "POST",
            "/similar",
            &[("content-type", "application/json")],
            r#"{"text":"data scientist"}"#,
        )
        .await;
        assert_eq!(
            json_of(response).await["error"]["code"],
            "no_index",
            "admitted once a permit is free"
        );
    }

    #[tokio::test]
    async fn admin_routes_exist_only_with_a_token_and_check_it() {
        let (_, app) = empty_app(ServerOptions::default());
        let response = send(app, "POST", "/admin/reload", &[("authorization", "Bearer x")], "").await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let (_, app) = empty_app(ServerOptions {
            admin_token: Some("s3cret".into()),
            ..ServerOptions::default()
        });
        for given in [None, Some("Bearer wrong"), Some("s3cret"), Some("Bearer s3cre")] {
            let headers: Vec<(&str, &str)> = given.map(|g| ("authorization", g)).into_iter().collect();
            let response = send(app.clone(), "POST", "/admin/reload", &headers, "").await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{given:?}");
            assert_eq!(json_of(response).await["error"]["code"], "unauthorized");
        }
        // The right token, on a state given one index and no root to reload from.
        let response = send(app, "POST", "/admin/reload", &[("authorization", "Bearer s3cret")], "").await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(json_of(response).await["error"]["code"], "unavailable");
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abd", b"abc"));
        assert!(!same_secret(b"ab", b"abc"));
    }
}
