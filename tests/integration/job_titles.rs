//! National job titles find their ESCO occupation first, through the served search path (hybrid,
//! learned fusion, no `lang`): a real-model index over the ESCO occupation and ISCO-group labels
//! of seven languages (the queries' en, de, fr, sv, pl, and da and no, whose labels compete with
//! Swedish ones; ~100,000 label vectors). The product benchmark
//! (`occusearch eval --linking`) measures the same over every language and 1,200 titles.

use std::sync::OnceLock;

use occusearch::search::{SearchRequest, Searcher};
use occusearch::types::{Kind, Lang};

use crate::common::data_files;
use crate::embedding::real_model_index;

struct Built {
    _dir: tempfile::TempDir,
    searcher: Searcher,
}

fn searcher() -> &'static Searcher {
    static BUILT: OnceLock<Built> = OnceLock::new();
    &BUILT
        .get_or_init(|| {
            let files = data_files(&[
                "esco/v1.1.1/en/occupations_en.csv",
                "esco/v1.1.1/en/ISCOGroups_en.csv",
                "esco/v1.1.1/fr/occupations_fr.csv",
                "esco/v1.2.0/de/occupations_de.csv",
                "esco/multilingual/occupation_labels.tsv.gz",
            ]);
            let (dir, searcher) = real_model_index(&files, &["en", "de", "fr", "sv", "pl", "da", "no"]);
            Built { _dir: dir, searcher }
        })
        .searcher
}

/// The first hit of `query` as a user would ask (kinds occupation and ISCO group, no language):
/// its English label, its label and that label's language, and the language that matched.
fn first(query: &str) -> (String, String, String, Option<String>) {
    let mut request = SearchRequest::new(query);
    request.kinds = vec![Kind::Occupation, Kind::IscoGroup];
    let results = searcher().search(&request).unwrap();
    assert_eq!(results.mode, occusearch::search::Mode::Hybrid, "{:?}", results.notice);
    let hit = &results.hits[0];
    let english = hit.english_label.clone().unwrap_or_else(|| hit.label.clone());
    (
        english.to_lowercase(),
        hit.label.clone(),
        hit.lang.clone(),
        hit.matched_lang.clone(),
    )
}

#[test]
fn national_job_titles_find_their_occupation_first() {
    // (query, words one of which the first hit's English label must hold)
    let cases = [
        ("Krankenpfleger", &["nurse"][..]),
        ("lastbilschaufför", &["lorry", "truck", "cargo vehicle driver"][..]),
        ("programista", &["developer", "programmer"][..]),
        ("sjuksköterska", &["nurse"][..]),
        ("infirmière", &["nurse"][..]),
    ];
    for (query, words) in cases {
        let (english, label, shown_lang, matched_lang) = first(query);
        assert!(
            words.iter().any(|w| english.contains(w)),
            "{query}: first hit {label:?} ({english})"
        );
        // Without `lang`, the label is shown in the language of the label that matched.
        assert_eq!(Some(&shown_lang), matched_lang.as_ref(), "{query}: shown as {label:?}");
    }
    // A German title is answered in German, a French one in French.
    assert_eq!(first("Krankenpfleger").2, "de");
    assert_eq!(first("infirmière").2, "fr");
}

#[test]
fn a_language_the_index_does_not_hold_gets_a_notice_and_still_answers() {
    let mut request = SearchRequest::new("Krankenpfleger");
    request.lang = Lang::parse("ga");
    let results = searcher().search(&request).unwrap();
    let notice = results.notice.expect("a notice");
    assert!(notice.contains("\"ga\""), "{notice}");
    assert!(results.hits[0]
        .english_label
        .as_deref()
        .unwrap_or(&results.hits[0].label)
        .contains("nurse"));
}
