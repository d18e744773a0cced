//! Autocomplete: label completions per language, prefix and typo tolerant, fast enough for every
//! keystroke. Every label is keyed by its folded text from each word start ("software
//! developer" also under "developer"), in one sorted array per language, so a prefix is a
//! binary-searched range. When the prefix finds too little, keys whose start is within a small
//! edit distance of the typed text are added (optimal string alignment distance, Damerau 1964;
//! the first letter must match, as spelling errors there are rare and it bounds the scan).

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use crate::analyze::{fold, words};
use crate::ingest::Catalog;
use crate::types::{Kind, LabelType};

/// Longest prefix range scanned before ranking; short prefixes match thousands of labels.
const MAX_SCANNED: usize = 4000;

#[derive(Debug, Clone)]
struct Key {
    text: String,
    concept: u32,
    label: u32,
    /// The key starts at the label's first word.
    whole: bool,
}

#[derive(Debug, Clone)]
struct Label {
    text: String,
    preferred: bool,
}

#[derive(Debug, Clone)]
struct SuggestConcept {
    id: String,
    kind: Kind,
}

/// One completion.
#[derive(Debug, Clone, Serialize)]
pub struct Suggestion {
    pub id: String,
    pub kind: Kind,
    pub label: String,
    pub lang: String,
    /// Whether the typed text had to be corrected to match.
    pub corrected: bool,
}

#[derive(Debug, Default)]
pub struct Suggester {
    concepts: Vec<SuggestConcept>,
    labels: Vec<Label>,
    keys: BTreeMap<String, Vec<Key>>,
}

fn folded(text: &str) -> String {
    words(text).map(fold).collect::<Vec<_>>().join(" ")
}

/// The last row of the optimal string alignment table of `a` against `b`: entry `j` is the
/// distance of `a` to `b[..j]`. `None` once every entry of a row exceeds `bound` (none can fall
/// again below it).
fn distance_row(a: &[char], b: &[char], bound: usize) -> Option<Vec<usize>> {
    let mut previous2: Vec<usize> = Vec::new();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut current = vec![i; b.len() + 1];
        let mut row_min = current[0];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            current[j] = (previous[j] + 1).min(current[j - 1] + 1).min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                current[j] = current[j].min(previous2[j - 2] + 1);
            }
            row_min = row_min.min(current[j]);
        }
        if row_min > bound {
            return None;
        }
        previous2 = std::mem::replace(&mut previous, current);
    }
    Some(previous)
}

/// Optimal string alignment distance (Damerau 1964), `bound + 1` once it must exceed `bound`.
#[cfg(test)]
fn edit_distance(a: &[char], b: &[char], bound: usize) -> usize {
    distance_row(a, b, bound).map_or(bound + 1, |row| row[b.len()].min(bound + 1))
}

/// The smallest distance of `typed` to a start of `key` within `bound` characters of its length:
/// one table serves every start length.
fn prefix_distance(typed: &[char], key: &[char], bound: usize) -> usize {
    let shortest = typed.len().saturating_sub(bound);
    distance_row(typed, key, bound)
        .and_then(|row| row.get(shortest..).and_then(|ends| ends.iter().min().copied()))
        .unwrap_or(bound + 1)
}

impl Suggester {
    pub fn new(catalog: &Catalog) -> Suggester {
        let mut suggester = Suggester::default();
        for concept in catalog.concepts.values() {
            let position = suggester.concepts.len() as u32;
            suggester.concepts.push(SuggestConcept {
                id: concept.id.to_string(),
                kind: concept.kind,
            });
            for (lang, labels) in &concept.labels {
                let keys = suggester.keys.entry(lang.as_str().to_string()).or_default();
                for (label_type, text) in labels.all_labels() {
                    if label_type == LabelType::Hidden {
                        continue;
                    }
                    let label = suggester.labels.len() as u32;
                    suggester.labels.push(Label {
                        text: text.to_string(),
                        preferred: label_type == LabelType::Preferred,
                    });
                    let full = folded(text);
                    let mut start = 0;
                    for (index, word) in full.split(' ').enumerate() {
                        if word.chars().count() > 1 || index == 0 {
                            keys.push(Key {
                                text: full[start..].to_string(),
                                concept: position,
                                label,
                                whole: index == 0,
                            });
                        }
                        start += word.len() + 1;
                    }
                }
            }
        }
        for keys in suggester.keys.values_mut() {
            keys.sort_by(|a, b| a.text.cmp(&b.text));
        }
        suggester
    }

    pub fn languages(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// Up to `limit` completions of `typed` in `lang`, optionally of some kinds only.
    pub fn suggest(&self, typed: &str, lang: &str, kinds: &[Kind], limit: usize) -> Vec<Suggestion> {
        let typed = folded(typed);
        let Some(keys) = self.keys.get(lang).filter(|_| !typed.is_empty()) else {
            return Vec::new();
        };
        let allowed = |key: &Key| kinds.is_empty() || kinds.contains(&self.concepts[key.concept as usize].kind);
        let start = keys.partition_point(|k| k.text.as_str() < typed.as_str());
        let mut found: Vec<(&Key, bool)> = keys[start..]
            .iter()
            .take_while(|k| k.text.starts_with(&typed))
            .take(MAX_SCANNED)
            .filter(|k| allowed(k))
            .map(|k| (k, false))
            .collect();
        let typed_chars: Vec<char> = typed.chars().collect();
        if found.len() < limit && typed_chars.len() >= 4 {
            let bound = if typed_chars.len() >= 8 { 2 } else { 1 };
            let first = typed_chars[0];
            let from = keys.partition_point(|k| k.text.chars().next() < Some(first));
            let mut seen: HashSet<u32> = found.iter().map(|(k, _)| k.label).collect();
            // Sorted keys share their starts: the distance is computed once per distinct start.
            let window = typed_chars.len() + bound;
            let mut last: Option<(&str, bool)> = None;
            for key in keys[from..].iter().take_while(|k| k.text.starts_with(first)) {
                let end = key.text.char_indices().nth(window).map_or(key.text.len(), |(i, _)| i);
                let start = &key.text[..end];
                let close = match last {
                    Some((previous, close)) if previous == start => close,
                    _ => {
                        let key_chars: Vec<char> = start.chars().collect();
                        let close = prefix_distance(&typed_chars, &key_chars, bound) <= bound;
                        last = Some((start, close));
                        close
                    }
                };
                if close && allowed(key) && seen.insert(key.label) {
                    found.push((key, true));
                }
            }
        }
        // Exact before corrected, whole-label before word-start, preferred before alternative,
        // occupations and profiles before the rest, shorter before longer.
        let kind_rank = |kind: Kind| match kind {
            Kind::Occupation | Kind::Profile => 0,
            Kind::Skill | Kind::Material => 1,
            _ => 2,
        };
        found.sort_by_cached_key(|(key, corrected)| {
            let label = &self.labels[key.label as usize];
            (
                *corrected,
                !key.whole,
                !label.preferred,
                kind_rank(self.concepts[key.concept as usize].kind),
                label.text.chars().count(),
                key.label,
            )
        });
        let mut concepts_seen = HashSet::new();
        found
            .into_iter()
            .filter(|(key, _)| concepts_seen.insert(key.concept))
            .take(limit)
            .map(|(key, corrected)| {
                let concept = &self.concepts[key.concept as usize];
                Suggestion {
                    id: concept.id.clone(),
                    kind: concept.kind,
                    label: self.labels[key.label as usize].text.clone(),
                    lang: lang.to_string(),
                    corrected,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Concept, ConceptId, Lang, LanguageLabels};

    fn catalog() -> Catalog {
        let mut catalog = Catalog::default();
        for (id, kind, preferred, alternative) in [
            ("o1", Kind::Occupation, "software developer", vec!["programmer"]),
            ("o2", Kind::Occupation, "nurse responsible for general care", vec![]),
            ("s1", Kind::Skill, "software testing", vec![]),
        ] {
            let mut concept = Concept::new(ConceptId::new(id), kind, "test");
            concept.labels.insert(
                Lang::english(),
                LanguageLabels {
                    preferred: Some(preferred.into()),
                    alternative: alternative.into_iter().map(String::from).collect(),
                    ..Default::default()
                },
            );
            catalog.merge(concept);
        }
        catalog
    }

    #[test]
    fn prefixes_complete_from_any_word_and_rank_occupations_first() {
        let suggester = Suggester::new(&catalog());
        let ids: Vec<String> = suggester
            .suggest("softw", "en", &[], 5)
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(ids, ["o1", "s1"]);
        let found = suggester.suggest("develo", "en", &[], 5);
        assert_eq!(found[0].label, "software developer");
        assert!(suggester
            .suggest("softw", "en", &[Kind::Skill], 5)
            .iter()
            .all(|s| s.id == "s1"));
        assert!(suggester.suggest("softw", "de", &[], 5).is_empty());
    }

    #[test]
    fn typos_are_corrected_and_marked() {
        let suggester = Suggester::new(&catalog());
        let found = suggester.suggest("nusre resp", "en", &[], 5);
        assert_eq!(found[0].id, "o2");
        assert!(found[0].corrected);
        let found = suggester.suggest("porgrammer", "en", &[], 5);
        assert_eq!(found[0].id, "o1");
    }

    #[test]
    fn edit_distance_counts_transpositions_as_one() {
        let chars = |s: &str| s.chars().collect::<Vec<_>>();
        assert_eq!(edit_distance(&chars("nusre"), &chars("nurse"), 2), 1);
        assert_eq!(edit_distance(&chars("kitten"), &chars("sitting"), 5), 3);
        assert_eq!(edit_distance(&chars("abc"), &chars("xyz"), 1), 2);
    }
}
