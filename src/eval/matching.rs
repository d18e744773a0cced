//! The matching benchmark, from ESCO's own relations (no hand labels): a fixed-seed sample of
//! ESCO occupations with at least [`MIN_ESSENTIAL`] essential skills; for each, `k` of its
//! essential skills (k = 3, 5, 8) typed as free texts the way people type them — the skill's
//! preferred label in French or Spanish (the languages the data has skill labels in besides
//! English), or one of its alternative labels — and a noisy variant with two unrelated skills
//! added. Each case goes through [`matching::match_texts`] (the path of `POST /match`, kinds
//! occupation) and is judged by the rank of its source occupation: MRR, A@1, A@5 per language,
//! form and k, then as a mean over the rows.

use std::collections::BTreeMap;
use std::io::Write;

use rayon::prelude::*;
use serde::Serialize;

use super::linking::{sample, LinkingMetrics};
use crate::error::Result;
use crate::ingest::Catalog;
use crate::search::matching::{self, MatchQuery, RelationGraph};
use crate::search::Searcher;
use crate::types::{Concept, ConceptId, Deadline, Kind, Lang};

/// Occupations need this many essential skills to be a case (k = 8 leaves some unsaid).
pub const MIN_ESSENTIAL: usize = 6;
pub const DEFAULT_OCCUPATIONS: usize = 100;
pub const DEFAULT_SEED: u64 = 2024;
/// Skills given per case.
pub const KS: [usize; 3] = [3, 5, 8];
/// Unrelated skills added in the noisy variant (to k = 5).
pub const NOISE: usize = 2;
/// Occupations ranked per case: a source beyond this scores 0.
const DEPTH: usize = 100;

/// How the skills are typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Form {
    /// The skill's preferred label.
    Preferred,
    /// One of its alternative labels (the preferred one when it has none).
    Alternative,
    /// Preferred labels of k = 5 skills plus two unrelated skills.
    Noisy,
}

impl Form {
    pub fn as_str(self) -> &'static str {
        match self {
            Form::Preferred => "preferred",
            Form::Alternative => "alternative",
            Form::Noisy => "noisy (5 + 2 unrelated)",
        }
    }
}

/// One benchmark case: free texts and the occupation they come from.
#[derive(Debug, Clone)]
pub struct MatchingCase {
    pub occupation: ConceptId,
    pub lang: Lang,
    pub form: Form,
    pub k: usize,
    pub texts: Vec<String>,
}

fn label_in<'a>(concept: &'a Concept, lang: &Lang, form: Form, pick: u64) -> Option<&'a str> {
    let labels = concept.labels.get(lang)?;
    let preferred = labels.preferred.as_deref();
    match form {
        Form::Alternative if !labels.alternative.is_empty() => {
            Some(labels.alternative[(pick % labels.alternative.len() as u64) as usize].as_str())
        }
        _ => preferred,
    }
}

/// The cases for `langs`: `occupations` sampled with `seed` among those with enough essential
/// skills labelled in every one of `langs` (the same occupations for every language).
pub fn cases(
    catalog: &Catalog,
    graph: &RelationGraph,
    langs: &[Lang],
    occupations: usize,
    seed: u64,
) -> Vec<MatchingCase> {
    let labelled = |id: &ConceptId, lang: &Lang| {
        catalog
            .concepts
            .get(id)
            .is_some_and(|c| c.labels.get(lang).is_some_and(|l| l.preferred.is_some()))
    };
    let essential_of = |id: &ConceptId| -> Vec<ConceptId> {
        let mut skills: Vec<ConceptId> = graph
            .listed_skills(id)
            .iter()
            .filter(|(_, essential)| *essential)
            .map(|(skill, _)| skill.clone())
            .filter(|skill| langs.iter().all(|lang| labelled(skill, lang)))
            .collect();
        skills.sort();
        skills.dedup();
        skills
    };
    let eligible: Vec<ConceptId> = catalog
        .concepts
        .values()
        .filter(|c| c.kind == Kind::Occupation && c.source == "esco")
        .map(|c| c.id.clone())
        .filter(|id| essential_of(id).len() >= MIN_ESSENTIAL)
        .collect();
    let all_skills: Vec<ConceptId> = catalog
        .concepts
        .values()
        .filter(|c| c.kind == Kind::Skill && c.source == "esco")
        .map(|c| c.id.clone())
        .filter(|id| langs.iter().all(|lang| labelled(id, lang)))
        .collect();
    let chosen = sample(eligible, occupations, seed);
    let mut cases = Vec::new();
    for (n, occupation) in chosen.iter().enumerate() {
        let essential = essential_of(occupation);
        let listed: std::collections::HashSet<&ConceptId> =
            graph.listed_skills(occupation).iter().map(|(s, _)| s).collect();
        let case_seed = seed ^ (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let order = sample(essential.clone(), essential.len(), case_seed);
        let unrelated: Vec<ConceptId> = sample(all_skills.clone(), 64, case_seed.rotate_left(17))
            .into_iter()
            .filter(|s| !listed.contains(s))
            .take(NOISE)
            .collect();
        for lang in langs {
            let texts_of = |ids: &[ConceptId], form: Form| -> Vec<String> {
                ids.iter()
                    .enumerate()
                    .filter_map(|(i, id)| {
                        let concept = catalog.concepts.get(id)?;
                        label_in(concept, lang, form, case_seed.wrapping_add(i as u64)).map(str::to_string)
                    })
                    .collect()
            };
            for form in [Form::Preferred, Form::Alternative] {
                for k in KS {
                    cases.push(MatchingCase {
                        occupation: occupation.clone(),
                        lang: lang.clone(),
                        form,
                        k,
                        texts: texts_of(&order[..k.min(order.len())], form),
                    });
                }
            }
            let mut noisy = texts_of(&order[..5.min(order.len())], Form::Preferred);
            noisy.extend(texts_of(&unrelated, Form::Preferred));
            cases.push(MatchingCase {
                occupation: occupation.clone(),
                lang: lang.clone(),
                form: Form::Noisy,
                k: 5,
                texts: noisy,
            });
        }
    }
    cases
}

/// One row of the report: a language, a form and a k.
#[derive(Debug, Clone, Serialize)]
pub struct MatchingRow {
    pub lang: Lang,
    pub form: Form,
    pub k: usize,
    pub metrics: LinkingMetrics,
}

#[derive(Debug, Clone, Serialize)]
pub struct MatchingReport {
    pub occupations: usize,
    pub rows: Vec<MatchingRow>,
    pub mean: LinkingMetrics,
}

impl MatchingReport {
    /// A Markdown table: one row per language, form and k, then the mean.
    pub fn write_table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(out, "occupations: {}", self.occupations)?;
        writeln!(out, "| lang | skills typed as | k | cases | MRR | A@1 | A@5 |")?;
        writeln!(out, "|---|---|---:|---:|---:|---:|---:|")?;
        for row in &self.rows {
            let m = &row.metrics;
            writeln!(
                out,
                "| {} | {} | {} | {} | {:.3} | {:.3} | {:.3} |",
                row.lang,
                row.form.as_str(),
                row.k,
                m.queries,
                m.mrr,
                m.accuracy_1,
                m.accuracy_5
            )?;
        }
        let m = &self.mean;
        writeln!(
            out,
            "| **mean** | | | {} | {:.3} | {:.3} | {:.3} |",
            m.queries, m.mrr, m.accuracy_1, m.accuracy_5
        )
    }
}

/// Runs every case through the `/match` path (kinds occupation) on both cores.
pub fn run_matching(
    searcher: &Searcher,
    catalog: &Catalog,
    graph: &RelationGraph,
    cases: &[MatchingCase],
    progress: &(dyn Fn(usize) + Sync),
) -> Result<MatchingReport> {
    let done = std::sync::atomic::AtomicUsize::new(0);
    let ranks: Vec<Option<usize>> = cases
        .par_iter()
        .map(|case| {
            let query = MatchQuery {
                skills: &case.texts,
                lang: &case.lang,
                kinds: &[Kind::Occupation],
                limit: DEPTH,
                deadline: Deadline::NONE,
            };
            let outcome = matching::match_texts(searcher, catalog, graph, query)?;
            progress(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1);
            Ok(outcome
                .matches
                .iter()
                .position(|m| m.id == case.occupation.as_str())
                .map(|p| p + 1))
        })
        .collect::<Result<_>>()?;
    let mut grouped: BTreeMap<(Lang, Form, usize), Vec<Option<usize>>> = BTreeMap::new();
    for (case, rank) in cases.iter().zip(ranks) {
        grouped
            .entry((case.lang.clone(), case.form, case.k))
            .or_default()
            .push(rank);
    }
    let rows: Vec<MatchingRow> = grouped
        .into_iter()
        .map(|((lang, form, k), ranks)| MatchingRow {
            lang,
            form,
            k,
            metrics: LinkingMetrics::from_ranks(&ranks),
        })
        .collect();
    let mean = LinkingMetrics::mean(rows.iter().map(|r| &r.metrics));
    let occupations = cases
        .iter()
        .map(|c| &c.occupation)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    Ok(MatchingReport {
        occupations,
        rows,
        mean,
    })
}
