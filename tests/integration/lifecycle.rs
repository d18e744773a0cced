//! Index lifecycle: atomic replacement, failed and killed builds, manifest checks, bad input.

use std::io::Write;
use std::path::{Path, PathBuf};

use occusearch::index::{self, OccuIndex};
use occusearch::ingest::IngestOptions;
use occusearch::Error;

fn sample() -> Vec<PathBuf> {
    vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("corpora")]
}

fn build(data: &[PathBuf], root: &Path, strict: bool) -> occusearch::Result<index::BuildSummary> {
    index::build(data, root, IngestOptions { strict }, None, &index::NoProgress)
}

fn bad_occupations(dir: &Path) -> PathBuf {
    let path = dir.join("occupations_en.csv");
    let mut file = std::fs::File::create(&path).unwrap();
    file.write_all(
        b"conceptType,conceptUri,iscoGroup,preferredLabel,altLabels\n\
          Occupation,http://data.europa.eu/esco/occupation/good,2512,software tester,\n\
          Occupation,,2512,nameless,\n",
    )
    .unwrap();
    path
}

#[test]
fn a_failed_build_leaves_the_previous_index_usable() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("index");
    let first = build(&sample(), &root, false).unwrap();
    let bad = tempfile::tempdir().unwrap();
    bad_occupations(bad.path());
    let error = build(&[bad.path().to_path_buf()], &root, true).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("occupations_en.csv:line 3: field `conceptUri`: empty"),
        "{message}"
    );
    let opened = OccuIndex::open(&root).unwrap();
    assert_eq!(opened.manifest, first.manifest);
    assert_eq!(opened.dir, std::fs::canonicalize(&first.generation).unwrap());
    let leftovers: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("building-"))
        .collect();
    assert!(leftovers.is_empty(), "a failed build left {leftovers:?}");
}

#[test]
fn lenient_builds_skip_bad_records_and_keep_good_ones() {
    let dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    bad_occupations(data.path());
    let summary = build(&[data.path().to_path_buf()], &dir.path().join("index"), false).unwrap();
    assert_eq!(summary.manifest.concepts, 1);
    assert_eq!(summary.manifest.skipped_records, 1);
    assert!(summary.report.files[0].first_errors[0].contains("line 3"));
}

#[test]
fn a_killed_build_is_ignored_then_cleaned_up_and_rebuilds_swap() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("index");
    let first = build(&sample(), &root, false).unwrap();
    // What a build killed halfway leaves: a building directory of a process that is gone, no manifest.
    let abandoned = root.join("building-1-4000000000");
    std::fs::create_dir_all(abandoned.join("text")).unwrap();
    std::fs::write(abandoned.join("text/junk"), b"partial").unwrap();
    assert_eq!(OccuIndex::open(&root).unwrap().manifest, first.manifest);
    // Straight away: generation names must not collide within a second.
    let second = build(&sample(), &root, false).unwrap();
    assert!(!abandoned.exists());
    assert_ne!(first.generation, second.generation);
    assert_eq!(
        OccuIndex::open(&root).unwrap().dir,
        std::fs::canonicalize(&second.generation).unwrap()
    );
    // The previous generation is kept for a reader that still has it open.
    assert!(first.generation.exists());
}

#[test]
fn a_manifest_of_another_format_refuses_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("index");
    let summary = build(&sample(), &root, false).unwrap();
    let path = summary.generation.join("manifest.json");
    let written = std::fs::read_to_string(&path).unwrap();
    let current = format!("\"format_version\": {}", occusearch::index::manifest::FORMAT_VERSION);
    assert!(written.contains(&current), "the manifest names this build's format");
    std::fs::write(&path, written.replacen(&current, "\"format_version\": 99", 1)).unwrap();
    let error = OccuIndex::open(&root).err().expect("must refuse");
    assert!(matches!(error, Error::IncompatibleIndex { .. }), "{error}");
    assert!(error.to_string().contains("index format 99"), "{error}");
}

#[test]
fn missing_index_and_empty_data_are_user_errors_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    let error = OccuIndex::open(&dir.path().join("nowhere")).err().expect("no index");
    assert!(error.is_user_error());
    assert!(error.to_string().contains("occusearch index"), "{error}");
    let empty = tempfile::tempdir().unwrap();
    let error = build(&[empty.path().to_path_buf()], &dir.path().join("index"), false).unwrap_err();
    assert!(error.to_string().contains("no records found"), "{error}");
}

#[test]
fn a_build_killed_with_sigkill_leaves_the_live_index_answering() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("index");
    let first = build(&sample(), &root, false).unwrap();
    // The binary rebuilding a bigger real subset, killed as soon as it writes its generation.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_occusearch"))
        .args(["index", "--embed", "none", "--index"])
        .arg(&root)
        .args(
            crate::common::subset()
                .iter()
                .flat_map(|p| [std::ffi::OsStr::new("--data"), p.as_os_str()]),
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let building = || {
        std::fs::read_dir(&root)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("building-"))
    };
    let started = std::time::Instant::now();
    while !building() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the build ended before it could be killed"
        );
        assert!(started.elapsed().as_secs() < 300, "no build directory appeared");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL: no cleanup of any kind
    child.wait().unwrap();
    assert!(building(), "killed in the middle of writing its generation");
    // The live index still answers, from the generation it had.
    let opened = OccuIndex::open(&root).unwrap();
    assert_eq!(opened.dir, std::fs::canonicalize(&first.generation).unwrap());
    let searcher = occusearch::search::Searcher::text_only(opened);
    let hits = searcher
        .search(&occusearch::search::SearchRequest::new("energy retrofit advisor"))
        .unwrap()
        .hits;
    assert!(!hits.is_empty(), "the old index answers");
    drop(searcher);
    // The next build removes what the killed one left and swaps in.
    let next = build(&sample(), &root, false).unwrap();
    assert!(!building(), "abandoned build removed");
    assert_eq!(
        OccuIndex::open(&root).unwrap().dir,
        std::fs::canonicalize(&next.generation).unwrap()
    );
}
