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
fn kinds_are_given_comma_separated_as_in_the_http_api() {
    let root = crate::common::shared_index_root();
    let search = |kinds: &[&str]| {
        let mut command = occusearch();
        command.args(["search", "nurse", "--limit", "20", "--json"]);
        for kind in kinds {
            command.args(["--kind", kind]);
        }
        let output = command.arg("--index").arg(root).output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        value["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|hit| (hit["id"].to_string(), hit["kind"].as_str().unwrap().to_string()))
            .collect::<Vec<_>>()
    };
    let joined = search(&["occupation,skill"]);
    assert!(!joined.is_empty());
    assert!(
        joined.iter().all(|(_, kind)| kind == "occupation" || kind == "skill"),
        "{joined:?}"
    );
    // The same request as the repeated flag.
    assert_eq!(joined, search(&["occupation", "skill"]));
    let output = occusearch()
        .args(["search", "nurse", "--kind", "occupation,job"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("\"job\" is not"));
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
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("'--lang <LANG>': \"english\" is not an ISO 639-1 code"),
        "{stderr}"
    );
    // Every closed set is checked when the arguments are parsed, before any index is opened.
    for (flag, value) in [("--kind", "job"), ("--mode", "semantic")] {
        let output = occusearch().args(["search", "nurse", flag, value]).output().unwrap();
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(&format!("\"{value}\" is not")), "{stderr}");
    }
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

#[test]
fn ingest_problems_the_user_must_fix_exit_2_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("index");
    // A data path that is not there.
    let output = occusearch()
        .args(["index", "--embed", "none", "--data"])
        .arg(dir.path().join("no-such-data"))
        .arg("--index")
        .arg(&root)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("no-such-data"));
    // A real ESCO file cut inside a quoted field (the description of its last record).
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let real = std::fs::read_to_string(crate::common::data_dir().join("esco/v1.2.0/en/ISCOGroups_en.csv")).unwrap();
    let cut = real
        .char_indices()
        .map(|(i, _)| i)
        .take_while(|&i| i < real.len() / 2)
        .last()
        .unwrap();
    let cut = real[..cut].rfind(" a").unwrap_or(cut); // inside a description: prose, quoted
    std::fs::write(data.join("ISCOGroups_en.csv"), &real[..cut]).unwrap();
    let line = real[..cut].matches('\n').count();
    let output = occusearch()
        .args(["index", "--embed", "none", "--strict", "--data"])
        .arg(&data)
        .arg("--index")
        .arg(&root)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("ISCOGroups_en.csv:line ") && stderr.contains("cut short"),
        "{stderr}"
    );
    assert!(!root.join("current").exists(), "nothing made current");
    // Without --strict: indexed without the chopped record, which the summary names.
    let output = occusearch()
        .args(["index", "--embed", "none", "--data"])
        .arg(&data)
        .arg("--index")
        .arg(&root)
        .output()
        .unwrap();
    let summary = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        summary.contains("cut short") && summary.contains("skipped records: 1"),
        "{summary}"
    );
    assert!(line > 10, "cut well inside the file ({line} lines)");
}

/// Runs the binary over the shared (text-only) index.
fn run_on_shared(args: &[&str]) -> std::process::Output {
    occusearch()
        .args(args)
        .arg("--index")
        .arg(crate::common::shared_index_root())
        .output()
        .unwrap()
}

/// [`run_on_shared`]'s stdout, failing on a bad exit.
fn run_ok(args: &[&str]) -> String {
    let output = run_on_shared(args);
    assert!(
        output.status.success(),
        "occusearch {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn match_and_materials_answer_like_the_api_with_json_and_text() {
    // A label holding every word resolves without vectors; "x" is no skill of anybody's.
    let json = run_ok(&["match", "computer programming", "x", "--limit", "3", "--json"]);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["resolved"][0]["input"], "computer programming", "{value}");
    assert_eq!(value["unresolved"][0]["input"], "x", "{value}");
    let matches = value["matches"].as_array().unwrap();
    assert_eq!(matches.len(), 3, "{value}");
    assert!(matches[0]["breakdown"]["target_coverage"].as_f64().unwrap() > 0.0);
    assert!(matches[0]["missing_essential"].is_array());
    let text = run_ok(&["match", "computer programming", "x", "--limit", "3"]);
    assert!(text.contains("\"x\" -> unresolved"), "{text}");
    assert!(text.contains("matches:") && text.contains("essential"), "{text}");
    assert!(text.contains(matches[0]["label"].as_str().unwrap()), "{text}");

    // A concept that a material covers by relation finds that material.
    let catalog = crate::common::shared_index().load_catalog().unwrap();
    let covers = catalog
        .relations
        .iter()
        .find(|r| {
            r.relation == occusearch::types::RelationType::Covers
                && catalog.concepts[&r.from].kind == occusearch::types::Kind::Material
        })
        .expect("a material covering a concept");
    let json = run_ok(&["materials", covers.to.as_str(), "--json"]);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let material = value["materials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == covers.from.as_str())
        .unwrap_or_else(|| panic!("{} missing from {value}", covers.from));
    assert_eq!(material["covers"][0]["via"], "relation");
    let text = run_ok(&["materials", covers.to.as_str()]);
    assert!(text.contains(covers.from.as_str()), "{text}");
}

#[test]
fn similarity_commands_say_clearly_that_they_need_vectors() {
    for args in [
        &["similar", "--text", "ethical hacker"][..],
        &["duplicates", "--kind", "profile"][..],
    ] {
        let output = run_on_shared(args);
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("needs vectors"), "{args:?}: {stderr}");
    }
    let output = occusearch()
        .args(["similar", "--text", "a", "--id", "b"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}
