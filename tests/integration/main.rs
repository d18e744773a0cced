//! Integration tests over real files from `../shared/data` (a subset, so CI stays fast). One
//! index is built once per test run and shared by the read-only tests.

mod cli;
mod common;
mod embedding;
mod eval_melo;
mod ingest_counts;
mod job_titles;
mod lifecycle;
mod matching;
mod operations;
mod readers_fuzz;
mod search_quality;
mod server;
mod vector_search;
