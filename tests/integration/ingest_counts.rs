//! The whole shared data folder ingests without a panic, and its counts agree with its README.

use occusearch::ingest::{ingest, IngestOptions};
use occusearch::types::{Kind, Lang};

use crate::common::data_dir;

#[test]
fn full_data_counts_agree_with_the_data_readme() {
    let (catalog, report) = ingest(&[data_dir()], IngestOptions::default(), &|_| {}).expect("ingest");
    let counts = catalog.counts();
    let kind = |k: Kind| counts.per_kind.get(&k).copied().unwrap_or_default();
    // 3,007 (v1.1.1) + 35 only in v1.2.0 + 3 old v1.0.x occupations of the label table.
    assert_eq!(kind(Kind::Occupation), 3_045);
    assert_eq!(kind(Kind::IscoGroup), 619);
    assert_eq!(kind(Kind::Profile), 12);
    assert_eq!(kind(Kind::Material), 29);
    let occupation_langs = &counts.per_kind_and_lang[&Kind::Occupation];
    assert_eq!(occupation_langs.len(), 22, "{occupation_langs:?}");
    assert_eq!(occupation_langs[&Lang::parse("de").unwrap()], 3_039);
    assert_eq!(occupation_langs[&Lang::parse("bg").unwrap()], 2_942);
    let esco_skills = catalog
        .concepts
        .values()
        .filter(|c| c.kind == Kind::Skill && c.source == "esco" && c.labels.contains_key(&Lang::english()))
        .count();
    assert_eq!(esco_skills, 13_896);
    // Relations: 64,946 essential + 58,909 optional ESCO links, plus the ECSF profiles' 103 key
    // skills and 124 key knowledge items as essential links.
    assert_eq!(counts.relations["optional-skill"], 58_909);
    assert_eq!(counts.relations["essential-skill"], 64_946 + 103 + 124);
    assert_eq!(counts.relations["competence"], 55);
    // EO4GEO: 1,145 distinct BoK codes in the JSON less one node without a code, plus the XML-only ones.
    let bok = catalog
        .concepts
        .values()
        .filter(|c| c.kind == Kind::Concept && c.source == "eo4geo")
        .count();
    assert!((1_144..1_200).contains(&bok), "{bok}");
    let bok_skills = catalog
        .concepts
        .values()
        .filter(|c| c.kind == Kind::Skill && c.id.as_str().starts_with("eo4geo:skill:"))
        .count();
    assert_eq!(bok_skills, 1_658);
    // DigComp 3.0: 5 areas, 21 competences with 362 statements and 523 outcomes attached.
    let digcomp = |k: Kind| {
        catalog
            .concepts
            .values()
            .filter(|c| c.kind == k && c.source == "digcomp")
            .count()
    };
    assert_eq!((digcomp(Kind::SkillGroup), digcomp(Kind::Skill)), (5, 21));
    let attached: usize = report
        .files
        .iter()
        .filter(|f| f.reader == "digcomp")
        .map(|f| f.attached)
        .sum();
    assert_eq!(attached, 362 + 523);
    // Collection files join alternative labels with ` | `: no label may keep the separator, and
    // the German data scientist has its three alternative labels apart.
    let joined: Vec<String> = catalog
        .concepts
        .values()
        .flat_map(|c| {
            c.labels
                .values()
                .flat_map(|l| l.all_labels().map(|(_, label)| label.to_string()))
        })
        .filter(|label| label.contains(" | "))
        .collect();
    assert!(
        joined.is_empty(),
        "{} joined labels, e.g. {:?}",
        joined.len(),
        joined.first()
    );
    let data_scientist = &catalog.concepts[&occusearch::types::ConceptId::new(
        "http://data.europa.eu/esco/occupation/258e46f9-0075-4a2e-adae-1ff0477e0f30",
    )];
    let german = &data_scientist.labels[&Lang::parse("de").unwrap()];
    for label in ["Datenwissenschaftlerin", "Data Scientist", "Datenwissenschaftler"] {
        assert!(
            german.alternative.iter().any(|l| l == label),
            "{label} missing from {german:?}"
        );
    }
    // Every skipped record is reported with file and position; none comes from ESCO CSVs.
    for file in &report.files {
        if file.reader.starts_with("esco") {
            assert_eq!(file.skipped, 0, "{file:?}");
        }
        assert!(file
            .first_errors
            .iter()
            .all(|e| e.contains(&*file.path.to_string_lossy())));
    }
}
