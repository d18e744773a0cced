//! Skills matching as a job seeker meets it (`POST /match`, `occusearch match`): skills typed in
//! German or French, resolved with confidence, ranked by coverage fused with meaning. A
//! real-model index over ESCO v1.1.1 (English and French skills, occupations, occupation-skill
//! relations) and v1.2.0 German (occupations, the skill collections that carry German labels),
//! the EO4GEO training materials, labels kept in en, de and fr (~70,000 label vectors). The matching benchmark
//! (`occusearch eval --matching`) measures 1,400 such cases over the full index.

use std::sync::OnceLock;

use occusearch::ingest::Catalog;
use occusearch::search::matching::{self, MatchOutcome, MatchQuery, RelationGraph, SkillMatch};
use occusearch::search::Searcher;
use occusearch::types::{Concept, ConceptId, Deadline, Kind, Lang};

use crate::common::data_files;
use crate::embedding::real_model_index;

struct Built {
    _dir: tempfile::TempDir,
    searcher: Searcher,
    catalog: Catalog,
    graph: RelationGraph,
}

fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let mut files = data_files(&[
            "esco/v1.1.1/en/skills_en.csv",
            "esco/v1.1.1/en/occupations_en.csv",
            "esco/v1.1.1/relations/occupationSkillRelations.csv",
            "esco/v1.1.1/fr/occupations_fr.csv",
            "esco/v1.0.3/fr/skills_fr.csv",
            "esco/v1.2.0/de/occupations_de.csv",
            "sectoral/eo4geo/training_materials_metadata.csv",
        ]);
        let german = crate::common::data_dir().join("esco/v1.2.0/de");
        for entry in std::fs::read_dir(&german).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.contains("SkillsCollection") {
                files.push(path);
            }
        }
        let (dir, searcher) = real_model_index(&files, &["en", "de", "fr"]);
        let catalog = searcher.index.load_catalog().unwrap();
        let graph = RelationGraph::new(&catalog);
        Built {
            _dir: dir,
            searcher,
            catalog,
            graph,
        }
    })
}

fn match_texts(skills: &[&str], lang: &str) -> MatchOutcome {
    let built = built();
    let skills: Vec<String> = skills.iter().map(|s| s.to_string()).collect();
    let lang = Lang::parse(lang).unwrap();
    let query = MatchQuery {
        skills: &skills,
        lang: &lang,
        kinds: &[Kind::Occupation, Kind::Profile],
        limit: 10,
        deadline: Deadline::NONE,
    };
    matching::match_texts(&built.searcher, &built.catalog, &built.graph, query).unwrap()
}

/// Something of each of the first `n` matches and its catalog concept.
fn first_with<T>(outcome: &MatchOutcome, n: usize, of: impl Fn(&SkillMatch, &Concept) -> T) -> Vec<T> {
    outcome
        .matches
        .iter()
        .take(n)
        .map(|m| of(m, &built().catalog.concepts[&ConceptId::new(m.id.as_str())]))
        .collect()
}

/// The English labels of the first `n` matches.
fn first_english(outcome: &MatchOutcome, n: usize) -> Vec<String> {
    let english = Lang::english();
    first_with(outcome, n, |m, concept| {
        concept
            .display_label(&english)
            .map_or_else(|| m.label.clone(), |(_, l)| l.to_string())
    })
}

/// ISCO-08 groups of work with data, programs and statistics: ICT professionals (25);
/// mathematicians, actuaries and statisticians (212); statistical, mathematical and related
/// associate professionals (3314).
const DATA_WORK_ISCO: [&str; 3] = ["25", "212", "3314"];

/// The first `n` matches' ISCO-08 codes, `-` for a target without one.
fn first_isco(outcome: &MatchOutcome, n: usize) -> Vec<String> {
    first_with(outcome, n, |_, concept| {
        concept.attributes.isco_code.clone().unwrap_or_else(|| "-".into())
    })
}

/// Python, machine learning, data analysis, SQL and statistics are data work: each of the first
/// three matches is, and ESCO's two data occupations are among the first ten. (Asked before as
/// "data scientist or data analyst in the top three", which turned on a near-tie: by meaning the
/// first occupations lie within 0.003 cosine, int8 rounding's size, and by coverage of ESCO's
/// lists computer vision engineer, statistical assistant and others lead; see README, the fused
/// int8 graph.)
#[test]
fn german_data_skills_find_data_work_first() {
    let outcome = match_texts(
        &[
            "Python programmieren",
            "maschinelles Lernen",
            "Datenanalyse",
            "SQL-Datenbanken",
            "Statistik",
        ],
        "de",
    );
    let labels = first_english(&outcome, 10);
    let codes = first_isco(&outcome, 3);
    assert!(
        codes
            .iter()
            .all(|code| DATA_WORK_ISCO.iter().any(|group| code.starts_with(group))),
        "top 3: {:?} (ISCO {codes:?})",
        &labels[..3.min(labels.len())]
    );
    assert!(
        labels.iter().any(|l| l == "data scientist" || l == "data analyst"),
        "top 10: {labels:?}"
    );
    // Every text resolved with confidence, shown in German where the skill has a German label.
    assert!(outcome.unresolved.is_empty(), "{:?}", outcome.unresolved);
    assert!(
        outcome.resolved.iter().all(|r| r.confidence >= 0.85),
        "{:?}",
        outcome.resolved
    );
    // The score is explained: coverage both ways, its rank, and the rank by meaning.
    let first = &outcome.matches[0].breakdown;
    assert!(first.coverage > 0.0 && first.coverage_rank >= 1, "{first:?}");
    assert!(first.semantic_rank.is_some(), "{first:?}");
}

#[test]
fn french_baker_skills_find_baker_in_the_top_three() {
    let outcome = match_texts(
        &[
            "pétrir la pâte",
            "cuire le pain",
            "façonner les pâtons",
            "hygiène alimentaire",
            "four à pain",
        ],
        "fr",
    );
    let top = first_english(&outcome, 3);
    assert!(top.iter().any(|l| l == "baker"), "top 3: {top:?}");
    assert_eq!(outcome.matches[0].lang, "fr");
}

#[test]
fn nonsense_and_skills_of_no_trade_stay_unresolved() {
    let outcome = match_texts(&["x", "asdf", "Quidditch spielen", "Zaubertränke brauen"], "de");
    let unresolved: Vec<&str> = outcome.unresolved.iter().map(|u| u.input.as_str()).collect();
    assert_eq!(
        unresolved,
        ["x", "asdf", "Quidditch spielen", "Zaubertränke brauen"],
        "{:?}",
        outcome.resolved
    );
    assert!(outcome.resolved.is_empty());
    assert!(outcome.matches.is_empty());
    // Each comes with the nearest labels to choose from instead.
    assert!(outcome.unresolved.iter().all(|u| !u.suggestions.is_empty()));
}

#[test]
fn gaps_lead_to_materials_linked_first_then_similar() {
    let outcome = match_texts(
        &[
            "Fernerkundung",
            "Geodaten analysieren",
            "Kartografie",
            "Luftbilder auswerten",
        ],
        "de",
    );
    let gaps: Vec<&matching::GapSkill> = outcome.matches.iter().flat_map(|m| &m.missing_essential).collect();
    assert!(!gaps.is_empty());
    let with_materials: Vec<&&matching::GapSkill> = gaps.iter().filter(|g| !g.materials.is_empty()).collect();
    // The geo occupations miss skills that EO4GEO teaches; this corpus links no ESCO skill to a
    // material, so they are found by similarity, as /materials/for-skills finds them.
    assert!(!with_materials.is_empty(), "no gap with materials");
    for gap in &gaps {
        assert!(gap.materials.len() <= matching::GAP_MATERIALS);
        // Linked ones first, then by similarity, every similarity above the materials threshold.
        let linked = gap
            .materials
            .iter()
            .take_while(|m| m.via == matching::CoverVia::Relation)
            .count();
        let similar = &gap.materials[linked..];
        assert!(similar.iter().all(|m| m.via == matching::CoverVia::Similarity));
        assert!(similar.windows(2).all(|w| w[0].similarity >= w[1].similarity));
        assert!(
            similar
                .iter()
                .all(|m| m.similarity.unwrap() >= matching::MATERIAL_SIMILARITY),
            "{:?}",
            gap.materials
        );
        assert!(gap.materials.iter().all(|m| m.material.id.starts_with("eo4geo:")));
    }
    // A skill missing from several targets has the same materials in each.
    for a in &gaps {
        for b in gaps.iter().filter(|b| b.skill.id == a.skill.id) {
            let ids = |g: &matching::GapSkill| g.materials.iter().map(|m| m.material.id.clone()).collect::<Vec<_>>();
            assert_eq!(ids(a), ids(b));
        }
    }
}
