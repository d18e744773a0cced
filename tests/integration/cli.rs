//! The binary as a user runs it: exit codes, JSON shape, messages.

use std::process::Command;

fn occusearch() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_occusearch"));
    command
        .env_remove("OCCUSEARCH_INDEX")
        .env_remove("OCCUSEARCH_DATA")
        .env_remove("OCCUSEARCH_CONFIG");
    command
}

#[test]
fn search_json_has_the_documented_shape() {
    let root = crate::common::shared_index_root();
    let output = occusearch()
        .args([
            "search",
            "Softwareentwickler",
            "--lang",
            "de",
            "--limit",
            "3",
            "--json",
            "--index",
        ])
        .arg(root)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let hits = value["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 3);
    for key in ["id", "kind", "label", "lang", "score"] {
        assert!(hits[0].get(key).is_some(), "missing {key} in {}", hits[0]);
    }
    assert_eq!(hits[0]["id"], crate::common::SOFTWARE_DEVELOPER);
    assert_eq!(hits[0]["kind"], "occupation");
}

#[test]
fn bad_arguments_exit_2_with_a_clear_message() {
    let root = crate::common::shared_index_root();
    let output = occusearch()
        .args(["search", "nurse", "--lang", "english", "--index"])
        .arg(root)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--lang \"english\" is not an ISO 639-1 code"));
    let dir = tempfile::tempdir().unwrap();
    let output = occusearch()
        .args(["search", "nurse", "--index"])
        .arg(dir.path().join("none"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("occusearch index --data"));
}

#[test]
fn index_then_show_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("index");
    let corpora = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpora");
    let output = occusearch()
        .args(["index", "--data"])
        .arg(&corpora)
        .arg("--index")
        .arg(&root)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let summary = String::from_utf8_lossy(&output.stdout);
    assert!(summary.contains("profile"), "{summary}");
    assert!(summary.contains("skipped records: 0"), "{summary}");
    let output = occusearch()
        .args([
            "show",
            "sample-alliance:profile:building-energy-retrofit-advisor",
            "--lang",
            "de",
            "--index",
        ])
        .arg(&root)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.starts_with("Energieberater für Gebäudesanierung [profile]"),
        "{text}"
    );
    assert!(text.contains("essential skills (2)"), "{text}");
    assert!(text.contains("Energieaudits von Gebäuden durchführen"), "{text}");
    assert!(text.contains("plan staged deep renovations [en]"), "{text}");
}
