//! occusearch: multilingual search over European occupational profiles, skills and training
//! materials (ESCO, ENISA ECSF, EO4GEO, DigComp and any source in the generic JSONL format).
//!
//! The pipeline, one module per stage: [`ingest`] reads files into a [`ingest::Catalog`];
//! [`analyze`] turns text into per-language terms; [`index`] writes and opens the on-disk index
//! (tantivy text store, catalogue, manifest); [`search`] answers queries.
//!
//! ```no_run
//! use occusearch::{index, ingest::IngestOptions, search};
//! # fn main() -> occusearch::Result<()> {
//! let data = vec![std::path::PathBuf::from("../shared/data/esco/v1.1.1")];
//! index::build(&data, "index".as_ref(), IngestOptions::default(), None, &index::NoProgress)?;
//! let opened = index::OccuIndex::open("index".as_ref())?;
//! let hits = search::search(&opened, &search::SearchRequest::new("nurse"), &Default::default())?;
//! println!("{} {}", hits[0].id, hits[0].label);
//! # Ok(()) }
//! ```

pub mod analyze;
pub mod config;
pub mod embed;
pub mod error;
pub mod eval;
pub mod index;
pub mod ingest;
pub mod search;
pub mod server;
pub mod types;

pub use error::{Error, Result};

/// mimalloc (Leijen, Zorn & de Moura, "Mimalloc: free list sharding in action", 2019) for every
/// binary that links the library: the server, the CLI, the benchmarks and the tests allocate
/// alike. A search allocates thousands of short strings and maps (labels, stems, candidates),
/// where glibc's malloc spent a fifth of a query benchmark's samples in its free lists.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
