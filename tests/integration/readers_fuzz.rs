//! Property test: no reader panics on any input; each returns records or located errors.

use proptest::prelude::*;

use occusearch::ingest::{ingest, IngestOptions};

const FILE_NAMES: [&str; 12] = [
    "occupations_en.csv",
    "skills_fr.csv",
    "ISCOGroups_de.csv",
    "greenSkillsCollection_de.csv",
    "occupationSkillRelations.csv",
    "occupation_labels.tsv",
    "ECSF-v1.profiles.json",
    "eo4geoBOKv7.json",
    "saved-bok_2019-04-23.xml",
    "training_materials_metadata.csv",
    "outcomes.en-nl.csv",
    "partner.jsonl",
];

/// Bytes that look like each format often enough to reach past the header checks.
fn content() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..400),
        "(conceptType,conceptUri,preferredLabel,altLabels,code,skillType,reuseLevel,EQF,Title,URL,location,source\n)?([a-zA-Z0-9 ,\"\n\r:/.é\\[\\]{}]{0,300})".prop_map(String::into_bytes),
        "(\\{\"role-profiles\":\\[|\\{\"nodes\":\\[|<gin2k:BodyOfKnowledge><Skill |\\{\"id\":)[ -~]{0,200}".prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn readers_never_panic(name_index in 0..FILE_NAMES.len(), bytes in content(), strict in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAMES[name_index]), &bytes).unwrap();
        match ingest(&[dir.path().to_path_buf()], IngestOptions { strict }, &|_| {}) {
            Ok((_, report)) => {
                for file in &report.files {
                    for error in &file.first_errors {
                        prop_assert!(error.contains(FILE_NAMES[name_index]), "error without file name: {error}");
                    }
                }
            }
            Err(error) => prop_assert!(error.to_string().contains(FILE_NAMES[name_index]), "error without file name: {error}"),
        }
    }
}
