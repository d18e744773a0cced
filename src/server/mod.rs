//! The HTTP service (axum on tokio): one shared read-only index, loaded in the background while
//! the server already answers (503 until then); every search, match and similarity computation
//! runs on the blocking pool, never on the async threads. Body size and time are limited on every
//! request; shutdown waits for requests in flight.

pub mod dto;
pub mod error;
mod openapi;

pub use openapi::document as openapi_document;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
// serde_html_form underneath: repeated keys (`kind=a&kind=b`) fill a Vec, which serde_urlencoded
// (axum's own Query) rejects.
use axum_extra::extract::{Query, QueryRejection};
use serde_json::json;

use crate::error::{Error, Result};
use crate::ingest::Catalog;
use crate::search::matching::{self, RelationGraph};
use crate::search::similar::{self, SimilarTo};
use crate::search::suggest::Suggester;
use crate::search::{self, Mode, SearchRequest, Searcher};
use crate::types::{ConceptId, Kind};
use dto::*;
use error::ApiError;

/// Limits of the service.
#[derive(Debug, Clone, Copy)]
pub struct ServerOptions {
    pub request_timeout: Duration,
    pub max_body_bytes: usize,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            request_timeout: Duration::from_secs(10),
            max_body_bytes: 64 * 1024,
        }
    }
}

/// Everything a loaded index answers with.
pub struct Loaded {
    pub searcher: Searcher,
    pub catalog: Catalog,
    pub graph: RelationGraph,
    pub suggester: Suggester,
}

impl Loaded {
    /// Loads the catalogue and builds the lookup structures (a few seconds on the full index).
    pub fn new(searcher: Searcher) -> Result<Loaded> {
        let catalog = searcher.index.load_catalog()?;
        let graph = RelationGraph::new(&catalog);
        let suggester = Suggester::new(&catalog);
        Ok(Loaded {
            searcher,
            catalog,
            graph,
            suggester,
        })
    }
}

/// Shared state: the loaded index, absent until loading finishes (or when it failed).
#[derive(Default)]
pub struct AppState {
    loaded: RwLock<Option<Arc<Loaded>>>,
    load_error: RwLock<Option<String>>,
}

impl AppState {
    pub fn with(loaded: Loaded) -> AppState {
        let state = AppState::default();
        state.set(loaded);
        state
    }

    pub fn set(&self, loaded: Loaded) {
        if let Ok(mut slot) = self.loaded.write() {
            *slot = Some(Arc::new(loaded));
        }
    }

    pub fn set_error(&self, message: String) {
        if let Ok(mut slot) = self.load_error.write() {
            *slot = Some(message);
        }
    }

    fn get(&self) -> std::result::Result<Arc<Loaded>, ApiError> {
        let loaded = self.loaded.read().ok().and_then(|slot| slot.clone());
        loaded.ok_or_else(|| {
            let failed = self.load_error.read().ok().and_then(|e| e.clone());
            let message = match failed {
                Some(_) => "no index is loaded (loading failed; see the server log)",
                None => "the index is still loading",
            };
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "no_index", message)
        })
    }
}

type Shared = Arc<AppState>;

/// Runs `work` on the blocking pool with the loaded index.
async fn blocking<T, F>(state: &Shared, work: F) -> std::result::Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Loaded) -> std::result::Result<T, ApiError> + Send + 'static,
{
    let loaded = state.get()?;
    tokio::task::spawn_blocking(move || work(&loaded)).await.map_err(|e| {
        tracing::error!(error = %e, "blocking task failed");
        ApiError::internal()
    })?
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
    let routes = Router::new()
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
        .route("/duplicates", get(duplicates_handler))
        .fallback(|| async { ApiError::not_found("no such endpoint (see /openapi.json)") });
    limited(routes, &options).with_state(state)
}

/// The limits every route shares: body size and time.
fn limited<S>(routes: Router<S>, options: &ServerOptions) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    routes
        .layer(DefaultBodyLimit::max(options.max_body_bytes))
        .layer(middleware::from_fn_with_state(options.request_timeout, limit_time))
}

/// Answers 408 with the usual error body when a request takes longer than allowed. The work on
/// the blocking pool is not interrupted (it cannot be), but nobody waits for it.
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

async fn health(State(state): State<Shared>) -> (StatusCode, Json<serde_json::Value>) {
    match state.get() {
        Ok(loaded) => (
            StatusCode::OK,
            Json(json!({
                "status": "ok",
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

fn facets(loaded: &Loaded, ids: &[String]) -> Facets {
    let mut facets = Facets::default();
    let count = |map: &mut BTreeMap<String, usize>, key: String| *map.entry(key).or_default() += 1;
    for id in ids {
        let Some(concept) = loaded.catalog.concepts.get(&ConceptId::new(id.as_str())) else {
            continue;
        };
        count(&mut facets.kind, concept.kind.as_str().to_string());
        count(&mut facets.source, concept.source.clone());
        for lang in concept.labels.keys() {
            count(&mut facets.lang, lang.as_str().to_string());
        }
        if let Some(major) = concept.attributes.isco_code.as_deref().and_then(|c| c.get(..1)) {
            count(&mut facets.isco_major, major.to_string());
        }
        for level in &concept.attributes.eqf_levels {
            count(&mut facets.eqf, level.to_string());
        }
    }
    facets
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
    blocking(&state, move |loaded| {
        let results = loaded.searcher.search(&request)?;
        Ok(Json(SearchResponse {
            query: request.query,
            mode: results.mode,
            notice: results.notice,
            total: results.candidates,
            offset: request.offset,
            limit: request.limit,
            facets: facets(loaded, &results.candidate_ids),
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
    blocking(&state, move |loaded| {
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
    blocking(&state, move |loaded| {
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
              Path(id): Path<String>,
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
    blocking(&state, move |loaded| {
        let (resolved, unresolved) =
            matching::resolve_skills(&loaded.searcher, &loaded.catalog, &body.skills, &lang, &[Kind::Skill])?;
        let matches = matching::match_skills(&loaded.catalog, &loaded.graph, &resolved, &kinds, &lang, limit);
        Ok(Json(MatchResponse {
            resolved,
            unresolved,
            matches,
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
    if body.eqf.is_some_and(|e| !(1..=8).contains(&e)) {
        return Err(ApiError::bad_request("eqf must be an EQF level from 1 to 8"));
    }
    blocking(&state, move |loaded| {
        let kinds = [Kind::Skill, Kind::Concept, Kind::SkillGroup];
        let (resolved, unresolved) =
            matching::resolve_skills(&loaded.searcher, &loaded.catalog, &body.skills, &lang, &kinds)?;
        let materials = matching::materials_for_skills(
            &loaded.searcher,
            &loaded.catalog,
            &loaded.graph,
            &resolved,
            body.eqf,
            &lang,
            limit,
        )?;
        Ok(Json(MaterialsResponse {
            resolved,
            unresolved,
            materials,
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
    match (&body.text, &body.id) {
        (Some(text), None) if !text.trim().is_empty() && text.chars().count() <= search::MAX_QUERY_CHARS => {}
        (None, Some(id)) if !id.trim().is_empty() => {}
        _ => {
            return Err(ApiError::bad_request(format!(
                "give either a non-empty text (at most {} characters) or an id",
                search::MAX_QUERY_CHARS
            )))
        }
    }
    blocking(&state, move |loaded| {
        let to = match (&body.text, &body.id) {
            (Some(text), _) => SimilarTo::Text(text),
            (_, Some(id)) => SimilarTo::Concept(id),
            _ => return Err(ApiError::bad_request("give a text or an id")),
        };
        let similar = similar::similar(
            &loaded.searcher,
            &loaded.catalog,
            &loaded.graph,
            to,
            &kinds,
            &lang,
            limit,
        )?;
        Ok(Json(SimilarResponse { similar }))
    })
    .await
}

async fn duplicates_handler(
    State(state): State<Shared>,
    params: std::result::Result<Query<DuplicatesParams>, QueryRejection>,
) -> std::result::Result<Json<DuplicatesResponse>, ApiError> {
    let params = query_params(params)?;
    let mut kinds = parse_kinds(params.kind.iter())?;
    if kinds.is_empty() {
        kinds = vec![Kind::Profile, Kind::Material];
    }
    let min_similarity = params.min_similarity.unwrap_or(0.93);
    if !(0.0..=1.0).contains(&min_similarity) {
        return Err(ApiError::bad_request("min_similarity must be within 0 and 1"));
    }
    let cross_source = params.cross_source.unwrap_or(true);
    blocking(&state, move |loaded| {
        let clusters = similar::duplicates(&loaded.searcher, &loaded.graph, &kinds, min_similarity, cross_source)?;
        Ok(Json(DuplicatesResponse {
            kinds,
            min_similarity,
            cross_source,
            clusters,
        }))
    })
    .await
}

/// Serves `router` on `addr` until Ctrl-C or SIGTERM, then lets requests in flight finish.
/// `load` runs on the blocking pool after the socket is bound; until it returns, endpoints
/// answer 503.
pub async fn serve<F>(addr: SocketAddr, options: ServerOptions, load: F) -> Result<()>
where
    F: FnOnce() -> Result<Loaded> + Send + 'static,
{
    let state: Shared = Arc::new(AppState::default());
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Error::Config(format!("cannot listen on {addr}: {e}")))?;
    let bound = listener.local_addr().map_err(|e| Error::Internal(e.to_string()))?;
    tracing::info!(%bound, "listening; loading the index");
    eprintln!("occusearch listening on http://{bound} (loading the index)");
    let loading = state.clone();
    tokio::task::spawn_blocking(move || match load() {
        Ok(loaded) => {
            eprintln!(
                "index loaded: {} concepts; vectors {}",
                loaded.catalog.concepts.len(),
                loaded
                    .searcher
                    .vector_unavailable()
                    .map_or("available".to_string(), |r| format!("unavailable ({r})"))
            );
            loading.set(loaded);
        }
        Err(error) => {
            tracing::error!(%error, "loading the index failed");
            eprintln!("error: loading the index failed: {error}");
            loading.set_error(error.to_string());
        }
    });
    axum::serve(listener, router(state, options))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| Error::Internal(format!("server: {e}")))
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
    eprintln!("shutting down: finishing requests in flight");
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
}
