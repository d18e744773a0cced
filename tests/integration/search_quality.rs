use occusearch::index::FieldWeights;
use occusearch::search::{search, SearchRequest};
use occusearch::types::{Kind, Lang};

use crate::common::{shared_index, SOFTWARE_DEVELOPER};

fn run(query: &str, lang: Option<&str>, configure: impl FnOnce(&mut SearchRequest)) -> Vec<occusearch::search::Hit> {
    let mut request = SearchRequest::new(query);
    request.lang = lang.map(|l| Lang::parse(l).unwrap());
    configure(&mut request);
    search(shared_index(), &request, &FieldWeights::default()).expect("search")
}

#[test]
fn german_query_ranks_software_developer_first() {
    let hits = run("Softwareentwickler", Some("de"), |_| {});
    assert_eq!(hits[0].id, SOFTWARE_DEVELOPER, "{hits:#?}");
    assert_eq!(hits[0].kind, Some(Kind::Occupation));
    assert_eq!(hits[0].lang, "de");
}

/// Inflected query words that occur in no label still find the occupation, in languages for
/// which tantivy has no stemmer (truncation fallback).
#[test]
fn inflected_forms_match_without_a_stemmer() {
    for (lang, query, stem) in [
        ("lt", "slaugytojai", "slaugytoj"), // nurses (nom. pl.); labels have slaugytojas/-a
        ("lv", "programmētājus", "programmētāj"), // programmers (acc. pl.)
        ("pl", "programistów", "programi"), // of programmers (gen. pl.)
        ("et", "tarkvaraarendajaid", "tarkvaraarendaja"),
    ] {
        let hits = run(query, Some(lang), |_| {});
        assert!(!hits.is_empty(), "{lang} {query}: no hit");
        let top = &hits[0];
        let label = top.matched_label.as_deref().unwrap_or(&top.label).to_lowercase();
        assert!(
            label.contains(stem),
            "{lang} {query}: top hit {top:?} does not contain {stem}"
        );
        assert!(
            !label.contains(&query.to_lowercase()),
            "{lang} {query}: the label holds the query verbatim, no inflection tested"
        );
    }
}

#[test]
fn greek_queries_are_folded_and_stemmed() {
    let hits = run("ΗΛΕΚΤΡΟΛΟΓΟΙ", Some("el"), |_| {});
    assert!(hits[0].label.to_lowercase().contains("ηλεκτρολόγ"), "{hits:#?}");
}

#[test]
fn a_query_without_language_searches_all_and_lists_each_concept_once() {
    let hits = run("Krankenpfleger", None, |r| r.limit = 20);
    assert_eq!(hits[0].kind, Some(Kind::Occupation));
    assert_eq!(hits[0].lang, "de");
    let mut ids: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), hits.len(), "a concept appears twice");
}

#[test]
fn filters_restrict_kind_eqf_isco_and_source() {
    let catalog = shared_index().load_catalog().unwrap();
    let materials = run("remote sensing", None, |r| {
        r.kinds = vec![Kind::Material];
        r.eqf = Some(6);
    });
    assert!(!materials.is_empty());
    for hit in &materials {
        let concept = &catalog.concepts[&occusearch::types::ConceptId::new(hit.id.clone())];
        assert_eq!(concept.kind, Kind::Material);
        assert!(concept.attributes.eqf_levels.contains(&6), "{hit:?}");
    }
    let in_group = run("developer", Some("en"), |r| r.isco = Some("25".into()));
    assert!(!in_group.is_empty());
    for hit in &in_group {
        let concept = &catalog.concepts[&occusearch::types::ConceptId::new(hit.id.clone())];
        assert!(
            concept
                .attributes
                .isco_code
                .as_deref()
                .unwrap_or_default()
                .starts_with("25"),
            "{hit:?}"
        );
    }
    let profiles = run("penetration tester", None, |r| r.source = Some("ecsf".into()));
    assert_eq!(profiles[0].id, "ecsf:pentester");
    assert!(profiles.iter().all(|h| h.source == "ecsf"));
}

#[test]
fn generic_jsonl_records_are_searchable_in_their_languages() {
    let hits = run("Energieberater Gebäudesanierung", Some("de"), |_| {});
    assert_eq!(hits[0].id, "sample-alliance:profile:building-energy-retrofit-advisor");
}

#[test]
fn preferred_labels_outrank_descriptions() {
    // "nurse" appears in many descriptions; the occupations named so must come first.
    let hits = run("nurse", Some("en"), |r| r.kinds = vec![Kind::Occupation]);
    assert!(hits[0].label.to_lowercase().contains("nurse"), "{hits:#?}");
    assert!(hits[0].matched_terms.contains(&"nurse".to_string()));
}

#[test]
fn show_gives_skills_in_the_requested_language_with_fallback() {
    let catalog = shared_index().load_catalog().unwrap();
    let view = occusearch::search::show(
        &catalog,
        "f2b15a0e-e65a-438a-affb-29b9d50b77d1",
        &Lang::parse("fr").unwrap(),
    )
    .unwrap();
    assert_eq!(view.id, SOFTWARE_DEVELOPER);
    assert_eq!(view.lang, "fr");
    assert!(view.label.contains("développeur"), "{}", view.label);
    assert!(view.essential_skills.len() >= 5, "{:?}", view.essential_skills);
    assert!(!view.optional_skills.is_empty());
    // The subset has English skill labels only: each says which language it fell back to.
    assert!(view.essential_skills.iter().all(|s| s.lang == "en"));
    assert!(
        view.broader.iter().any(|b| b.id.ends_with("/C2512")),
        "{:?}",
        view.broader
    );
    let unknown = occusearch::search::show(&catalog, "no-such-id", &Lang::english()).unwrap_err();
    assert!(matches!(unknown, occusearch::Error::NotFound(_)));
}
