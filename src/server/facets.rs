//! Facet counts of a search's candidates (kind, language, source, ISCO major group, EQF level),
//! from keys precomputed per concept when a generation loads.
//!
//! Reading each candidate's label map per request cost 1.0–1.9 ms a search (~150 candidates with
//! labels in up to 22 languages: ~3,000 keys scattered over the heap); here a request reads one
//! small record per candidate and counts into arrays indexed by the keys' numbers.

use std::collections::{BTreeMap, HashMap};

use super::dto::Facets;
use crate::ingest::Catalog;
use crate::types::ConceptId;

/// One concept's facet keys, as numbers into [`FacetIndex`]'s names.
#[derive(Debug, Clone)]
struct Keys {
    kind: u16,
    source: u16,
    langs: Box<[u16]>,
    /// ISCO-08 major group: the first character of the ISCO code.
    isco_major: Option<u16>,
    eqf: Box<[u8]>,
}

/// The facet keys of every concept of a generation's catalogue.
#[derive(Debug, Default)]
pub struct FacetIndex {
    kinds: Vec<String>,
    sources: Vec<String>,
    langs: Vec<String>,
    isco_majors: Vec<String>,
    of: HashMap<ConceptId, Keys>,
}

/// The number of `name` in `names`, added when new (names are few: kinds, sources, languages).
fn number(names: &mut Vec<String>, name: &str) -> u16 {
    match names.iter().position(|n| n == name) {
        Some(at) => at as u16,
        None => {
            names.push(name.to_string());
            (names.len() - 1) as u16
        }
    }
}

impl FacetIndex {
    pub fn new(catalog: &Catalog) -> FacetIndex {
        let mut index = FacetIndex::default();
        for (id, concept) in &catalog.concepts {
            let keys = Keys {
                kind: number(&mut index.kinds, concept.kind.as_str()),
                source: number(&mut index.sources, &concept.source),
                langs: concept
                    .labels
                    .keys()
                    .map(|lang| number(&mut index.langs, lang.as_str()))
                    .collect(),
                isco_major: concept
                    .attributes
                    .isco_code
                    .as_deref()
                    .and_then(|code| code.get(..1))
                    .map(|major| number(&mut index.isco_majors, major)),
                eqf: concept.attributes.eqf_levels.clone().into_boxed_slice(),
            };
            index.of.insert(id.clone(), keys);
        }
        index
    }

    /// Counts over the concepts `ids` (ids the catalogue does not hold are skipped).
    pub fn count(&self, ids: &[String]) -> Facets {
        let mut kinds = vec![0usize; self.kinds.len()];
        let mut sources = vec![0usize; self.sources.len()];
        let mut langs = vec![0usize; self.langs.len()];
        let mut isco_majors = vec![0usize; self.isco_majors.len()];
        let mut eqf: BTreeMap<u8, usize> = BTreeMap::new();
        for id in ids {
            let Some(keys) = self.of.get(&ConceptId::new(id.as_str())) else {
                continue;
            };
            kinds[keys.kind as usize] += 1;
            sources[keys.source as usize] += 1;
            for lang in &keys.langs {
                langs[*lang as usize] += 1;
            }
            if let Some(major) = keys.isco_major {
                isco_majors[major as usize] += 1;
            }
            for level in &keys.eqf {
                *eqf.entry(*level).or_default() += 1;
            }
        }
        let named = |names: &[String], counts: Vec<usize>| -> BTreeMap<String, usize> {
            names
                .iter()
                .zip(counts)
                .filter(|(_, n)| *n > 0)
                .map(|(name, n)| (name.clone(), n))
                .collect()
        };
        Facets {
            kind: named(&self.kinds, kinds),
            lang: named(&self.langs, langs),
            source: named(&self.sources, sources),
            isco_major: named(&self.isco_majors, isco_majors),
            eqf: eqf.into_iter().map(|(level, n)| (level.to_string(), n)).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Concept, Kind, Lang, LanguageLabels};

    fn concept(id: &str, kind: Kind, source: &str, langs: &[&str], isco: Option<&str>, eqf: &[u8]) -> Concept {
        let mut concept = Concept::new(ConceptId::new(id), kind, source);
        for lang in langs {
            concept.labels.insert(
                Lang::parse(lang).unwrap(),
                LanguageLabels {
                    preferred: Some(format!("{id} in {lang}")),
                    ..LanguageLabels::default()
                },
            );
        }
        concept.attributes.isco_code = isco.map(String::from);
        concept.attributes.eqf_levels = eqf.to_vec();
        concept
    }

    #[test]
    fn counts_each_candidate_once_per_key_and_skips_unknown_ids() {
        let mut catalog = Catalog::default();
        catalog.merge(concept("a", Kind::Occupation, "esco", &["en", "de"], Some("2221"), &[]));
        catalog.merge(concept("b", Kind::Occupation, "esco", &["en"], Some("3221"), &[]));
        catalog.merge(concept("c", Kind::Material, "eo4geo", &["en", "fr"], None, &[5, 6]));
        catalog.merge(concept("d", Kind::Skill, "esco", &["sv"], None, &[]));
        let index = FacetIndex::new(&catalog);
        let ids: Vec<String> = ["a", "b", "c", "missing"].iter().map(|s| s.to_string()).collect();
        let facets = index.count(&ids);
        let map = |pairs: &[(&str, usize)]| -> BTreeMap<String, usize> {
            pairs.iter().map(|(k, n)| (k.to_string(), *n)).collect()
        };
        assert_eq!(facets.kind, map(&[("material", 1), ("occupation", 2)]));
        assert_eq!(facets.source, map(&[("eo4geo", 1), ("esco", 2)]));
        // Languages of the candidates only: d's Swedish is not counted.
        assert_eq!(facets.lang, map(&[("de", 1), ("en", 3), ("fr", 1)]));
        assert_eq!(facets.isco_major, map(&[("2", 1), ("3", 1)]));
        assert_eq!(facets.eqf, map(&[("5", 1), ("6", 1)]));
        assert_eq!(index.count(&[]).kind, BTreeMap::new());
    }
}
