use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use occusearch::index::{self, OccuIndex};
use occusearch::ingest::IngestOptions;

/// The shared data folder; tests fail (they do not skip) when it is missing.
pub fn data_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    assert!(
        dir.join("README.md").is_file(),
        "../shared/data is missing: the integration tests read real data from it"
    );
    dir
}

/// Paths under the shared data folder.
pub fn data_files(paths: &[&str]) -> Vec<PathBuf> {
    let data = data_dir();
    paths.iter().map(|p| data.join(p)).collect()
}

/// Real files for the shared test index: ESCO v1.1.1 English occupations, skills and ISCO groups
/// with the occupation-skill relations, German v1.2.0 occupations, the 22-language label table,
/// ECSF, EO4GEO and DigComp, plus the project's generic JSONL sample.
pub fn subset() -> Vec<PathBuf> {
    let data = data_dir();
    let mut paths: Vec<PathBuf> = [
        "esco/v1.1.1/en/occupations_en.csv",
        "esco/v1.1.1/en/skills_en.csv",
        "esco/v1.1.1/en/ISCOGroups_en.csv",
        "esco/v1.1.1/relations/occupationSkillRelations.csv",
        "esco/v1.1.1/relations/broaderRelationsOccPillar.csv",
        "esco/v1.1.1/fr/occupations_fr.csv",
        "esco/v1.2.0/de/occupations_de.csv",
        "esco/multilingual/occupation_labels.tsv.gz",
        "sectoral",
        "frameworks",
    ]
    .iter()
    .map(|p| data.join(p))
    .collect();
    paths.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("corpora"));
    paths
}

struct Shared {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

/// The shared index root, built on first use.
pub fn shared_index_root() -> &'static Path {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    &SHARED
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("temp dir");
            let root = dir.path().join("index");
            index::build(&subset(), &root, IngestOptions::default(), None, &index::NoProgress)
                .expect("building the shared test index");
            Shared { _dir: dir, root }
        })
        .root
}

pub fn shared_index() -> &'static OccuIndex {
    static OPENED: OnceLock<OccuIndex> = OnceLock::new();
    OPENED.get_or_init(|| OccuIndex::open(shared_index_root()).expect("opening the shared test index"))
}

pub const SOFTWARE_DEVELOPER: &str = "http://data.europa.eu/esco/occupation/f2b15a0e-e65a-438a-affb-29b9d50b77d1";
