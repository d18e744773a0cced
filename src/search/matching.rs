//! Skills matching: resolves a job seeker's skills (ids or free text in any language) to skill
//! concepts, ranks occupations and profiles by weighted coverage of their skills with the gap
//! (missing essential skills), and ranks training materials by how many of a set of skills they
//! cover (by explicit relation or by embedding similarity).
//!
//! Scoring weighs each skill by how specific it is, its inverse document frequency over the
//! occupations and profiles that list it (Spärck Jones 1972), `idf(s) = ln(1 + N / df(s))`: a
//! shared rare skill says more than "communicate with customers". For a target t with essential
//! skills E(t) and optional skills O(t), given the resolved skills S and the inputs I (each input
//! weighing as much as the most specific skill it resolved to):
//! - target coverage `C_t = (Σ_{S∩E} w_e·idf + Σ_{S∩O} w_o·idf) / (Σ_E w_e·idf + Σ_O w_o·idf)`,
//!   w_e = 2, w_o = 1 (an essential skill counts twice);
//! - user coverage `C_u = Σ_{i ∈ I listed by t} idf(i) / Σ_{i ∈ I} idf(i)`;
//! - `score = 2·C_t·C_u / (C_t + C_u)`, their harmonic mean (an F1): a small occupation that lists
//!   one generic skill has a high C_t and a low C_u, a large one that lists all the given skills the
//!   reverse; neither size nor generic skills alone decide.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use super::show::{find, linked, LinkedConcept};
use super::{Mode, SearchRequest, Searcher};
use crate::error::{Error, Result};
use crate::index::vectors::{VectorConcept, VectorEntry};
use crate::ingest::Catalog;
use crate::types::{ConceptId, Deadline, Kind, Lang, RelationType};

pub const ESSENTIAL_WEIGHT: f64 = 2.0;
pub const OPTIONAL_WEIGHT: f64 = 1.0;
/// Most skills one request may list.
pub const MAX_SKILLS: usize = 100;
/// A free-text skill also resolves to the best skill of every other source whose label is at
/// least this similar to the text (so a job seeker's words reach ESCO and ECSF alike).
const OTHER_SOURCE_SIMILARITY: f32 = 0.88;
/// A material covers a skill by similarity when a label or description of the material is at
/// least this similar to the skill's label (multilingual-e5 similarities sit high: unrelated
/// short texts score about 0.8; 0.87 kept generic skills such as "analyse big data" from
/// covering every material in a manual check).
pub const MATERIAL_SIMILARITY: f32 = 0.87;

/// Relations looked up by matching, built once per loaded catalogue.
#[derive(Debug, Default)]
pub struct RelationGraph {
    /// Occupation or profile → its skills (`true`: essential).
    skills_of: HashMap<ConceptId, Vec<(ConceptId, bool)>>,
    /// Skill → occupations and profiles that list it.
    targets_of: HashMap<ConceptId, Vec<(ConceptId, bool)>>,
    /// Concept → materials that cover it, and material → concepts it covers.
    covered_by: HashMap<ConceptId, Vec<ConceptId>>,
    covers: HashMap<ConceptId, Vec<ConceptId>>,
    /// Concept → its broader and narrower neighbours (one hop widens material coverage).
    neighbours: HashMap<ConceptId, Vec<ConceptId>>,
}

impl RelationGraph {
    pub fn new(catalog: &Catalog) -> RelationGraph {
        let mut graph = RelationGraph::default();
        for relation in &catalog.relations {
            let essential = match relation.relation {
                RelationType::EssentialSkill | RelationType::EssentialRelatedSkill => Some(true),
                RelationType::OptionalSkill | RelationType::OptionalRelatedSkill | RelationType::Competence => {
                    Some(false)
                }
                _ => None,
            };
            if let Some(essential) = essential {
                graph
                    .skills_of
                    .entry(relation.from.clone())
                    .or_default()
                    .push((relation.to.clone(), essential));
                graph
                    .targets_of
                    .entry(relation.to.clone())
                    .or_default()
                    .push((relation.from.clone(), essential));
            }
            match relation.relation {
                RelationType::Covers => {
                    graph
                        .covered_by
                        .entry(relation.to.clone())
                        .or_default()
                        .push(relation.from.clone());
                    graph
                        .covers
                        .entry(relation.from.clone())
                        .or_default()
                        .push(relation.to.clone());
                }
                RelationType::Broader => {
                    graph
                        .neighbours
                        .entry(relation.from.clone())
                        .or_default()
                        .push(relation.to.clone());
                    graph
                        .neighbours
                        .entry(relation.to.clone())
                        .or_default()
                        .push(relation.from.clone());
                }
                _ => {}
            }
        }
        graph
    }

    /// The skills an occupation or profile lists, each with `true` when essential.
    pub fn listed_skills(&self, id: &ConceptId) -> &[(ConceptId, bool)] {
        self.skills_of.get(id).map_or(&[], Vec::as_slice)
    }

    /// The skills a concept lists (essential or optional), for shared-skill evidence.
    pub fn skill_set(&self, id: &ConceptId) -> HashSet<&ConceptId> {
        let listed = self.skills_of.get(id).into_iter().flatten().map(|(s, _)| s);
        let covered = self.covers.get(id).into_iter().flatten();
        listed.chain(covered).collect()
    }
}

/// What one input skill resolved to.
#[derive(Debug, Clone, Serialize)]
pub struct ResolvedSkill {
    pub input: String,
    pub id: String,
    pub kind: Kind,
    pub source: String,
    pub label: String,
    pub lang: String,
    /// `id` when the input was an id, `search` when free text was searched.
    pub via: &'static str,
    /// Cosine similarity of the text and the skill's best label (search only, vectors available).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f32>,
    /// How sure the resolution is, in [0, 1]: 1 for an id, else the similarity, or
    /// [`RESOLVE_SIMILARITY`] for a label holding every word of the text that was not embedded.
    pub confidence: f32,
}

/// A free text that resolved to no skill with confidence, and the nearest candidates.
#[derive(Debug, Clone, Serialize)]
pub struct UnresolvedSkill {
    pub input: String,
    /// The best candidates found (at most three), for the user to pick from.
    pub suggestions: Vec<SkillSuggestion>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SkillSuggestion {
    pub id: String,
    pub label: String,
    pub lang: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f32>,
}

/// A free text resolves to a skill on a label at least this similar: with multilingual-e5,
/// unrelated short texts reach 0.80–0.89 ("asdf" → "STAF" 0.87, "x" → "use X-ray machines"
/// 0.89), related ones 0.90 and more (the same scale as [`OTHER_SOURCE_SIMILARITY`] and
/// [`MATERIAL_SIMILARITY`]).
pub const RESOLVE_SIMILARITY: f32 = 0.90;
/// ... or on a label that holds every word of the text, unless its embedding says the label is
/// unrelated (below this). A text with no word of three letters or more resolves only to a
/// label equal to it.
const RESOLVE_TEXT_FLOOR: f32 = 0.85;

/// The confidence of resolving a text whose folded words are `words` to `hit`; `None` below
/// the bar.
fn confidence(hit: &super::Hit, words: &[String]) -> Option<f32> {
    let similarity = hit.vector.as_ref().map(|v| v.similarity);
    // Too short to mean anything but a label of its own ("R", "C"): "x" is no X-ray skill and
    // no XQuery, however near their embeddings sit.
    if !words.iter().any(|w| w.chars().count() >= 3) {
        let label = hit.matched_label.as_deref().unwrap_or(&hit.label);
        let exact = crate::analyze::words(&crate::analyze::fold(label)).eq(words.iter().map(String::as_str));
        return exact.then_some(1.0);
    }
    if let Some(similarity) = similarity.filter(|&s| s >= RESOLVE_SIMILARITY) {
        return Some(similarity.min(1.0));
    }
    let every_word = words.iter().all(|w| hit.matched_terms.iter().any(|t| t == w));
    (every_word && similarity.is_none_or(|s| s >= RESOLVE_TEXT_FLOOR)).then(|| similarity.unwrap_or(RESOLVE_SIMILARITY))
}

/// Resolves ids and free texts to skill-like concepts of `kinds`. A free text resolves only
/// with confidence (see [`confidence`]); one that does not is returned apart with suggestions.
pub fn resolve_skills(
    searcher: &Searcher,
    catalog: &Catalog,
    inputs: &[String],
    lang: &Lang,
    kinds: &[Kind],
    deadline: Deadline,
) -> Result<(Vec<ResolvedSkill>, Vec<UnresolvedSkill>)> {
    if inputs.is_empty() || inputs.len() > MAX_SKILLS {
        return Err(Error::InvalidRequest(format!(
            "skills must list 1 to {MAX_SKILLS} ids or texts"
        )));
    }
    let mut resolved: Vec<ResolvedSkill> = Vec::new();
    let mut unresolved = Vec::new();
    for input in inputs {
        // One search per free text (up to MAX_SKILLS): stop between them at the deadline.
        deadline.check("resolving skills")?;
        let input_text = input.trim();
        if input_text.is_empty() {
            return Err(Error::InvalidRequest("skills must not contain empty strings".into()));
        }
        if let Some(concept) = find(catalog, input_text).filter(|c| kinds.contains(&c.kind)) {
            let (used, label) = concept.display_label(lang).unwrap_or((lang, ""));
            resolved.push(ResolvedSkill {
                input: input.clone(),
                id: concept.id.to_string(),
                kind: concept.kind,
                source: concept.source.clone(),
                label: label.to_string(),
                lang: used.to_string(),
                via: "id",
                similarity: None,
                confidence: 1.0,
            });
            continue;
        }
        let words: Vec<String> = crate::analyze::words(&crate::analyze::fold(input_text))
            .map(str::to_string)
            .collect();
        let mut request = SearchRequest::new(input_text);
        request.kinds = kinds.to_vec();
        // The whole candidate depth: the lexical best may sit low in a vector-weighted fusion.
        request.limit = 100;
        request.mode = Some(Mode::Hybrid);
        let hits = searcher.search(&request)?.hits;
        let mut sources_taken: HashSet<String> = HashSet::new();
        let before = resolved.len();
        for (position, hit) in hits.iter().enumerate() {
            let similarity = hit.vector.as_ref().map(|v| v.similarity);
            let close = similarity.is_some_and(|s| s >= OTHER_SOURCE_SIMILARITY);
            // The best lexical match is kept beside the fused best: with a small model, a single
            // foreign word ("Fernerkundung") can sit nearer an unrelated label than its own
            // translation, while the text side finds it among the labels in that language.
            let lexical_best = hit.text_rank == Some(1);
            if !(position == 0 || close || lexical_best) {
                continue;
            }
            // Every candidate must be confident on its own: the fused best of "x" or "asdf", or
            // the lexical best of "cuire le pain" (paiements), is no skill of the user's.
            let Some(confidence) = confidence(hit, &words) else {
                continue;
            };
            let new_source = (position == 0 || close) && sources_taken.insert(hit.source.clone());
            if new_source || (lexical_best && position > 0) {
                let id = ConceptId::new(hit.id.as_str());
                let shown = linked(catalog, &id, lang, None);
                resolved.push(ResolvedSkill {
                    input: input.clone(),
                    id: hit.id.clone(),
                    kind: hit.kind.unwrap_or(Kind::Skill),
                    source: hit.source.clone(),
                    label: shown.as_ref().map_or_else(|| hit.label.clone(), |s| s.label.clone()),
                    lang: shown.map_or_else(|| hit.lang.clone(), |s| s.lang),
                    via: "search",
                    similarity,
                    confidence,
                });
            }
        }
        if resolved.len() == before {
            unresolved.push(UnresolvedSkill {
                input: input.clone(),
                suggestions: hits
                    .iter()
                    .take(3)
                    .map(|hit| SkillSuggestion {
                        id: hit.id.clone(),
                        label: hit.label.clone(),
                        lang: hit.lang.clone(),
                        similarity: hit.vector.as_ref().map(|v| v.similarity),
                    })
                    .collect(),
            });
        }
    }
    let mut seen = HashSet::new();
    resolved.retain(|r| seen.insert(r.id.clone()));
    Ok((resolved, unresolved))
}

#[derive(Debug, Clone, Serialize)]
pub struct CoverageBreakdown {
    /// IDF-weighted share of the target's skills that were given (`C_t`).
    pub target_coverage: f64,
    /// IDF-weighted share of the given skills that the target lists (`C_u`).
    pub user_coverage: f64,
    pub essential_matched: usize,
    pub essential_total: usize,
    pub optional_matched: usize,
    pub optional_total: usize,
    pub essential_weight: f64,
    pub optional_weight: f64,
}

/// One occupation or profile ranked for a set of skills.
#[derive(Debug, Clone, Serialize)]
pub struct SkillMatch {
    pub id: String,
    pub kind: Kind,
    pub source: String,
    pub label: String,
    pub lang: String,
    /// Weighted coverage in [0, 1] (see the module documentation).
    pub score: f64,
    pub breakdown: CoverageBreakdown,
    pub matched_skills: Vec<LinkedConcept>,
    /// The gap: essential skills of the target not among the given ones, the one that would
    /// raise the score most first.
    pub missing_essential: Vec<GapSkill>,
}

/// One missing essential skill: how much having it would raise the match, and the training
/// materials linked to it (directly or one broader/narrower step away).
#[derive(Debug, Clone, Serialize)]
pub struct GapSkill {
    #[serde(flatten)]
    pub skill: LinkedConcept,
    /// The score with this skill given too, minus the score now.
    pub gain: f64,
    /// At most [`GAP_MATERIALS`] materials that cover the skill by relation.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub materials: Vec<LinkedConcept>,
}

/// Materials listed per missing skill.
pub const GAP_MATERIALS: usize = 3;

/// Harmonic mean of two coverages (0 when both are 0).
fn f1(target: f64, user: f64) -> f64 {
    if target + user > 0.0 {
        2.0 * target * user / (target + user)
    } else {
        0.0
    }
}

/// A job seeker's skills and what to rank for them (`POST /match`, `occusearch eval --matching`).
#[derive(Debug, Clone, Copy)]
pub struct MatchQuery<'a> {
    /// Skill ids or free texts, any language.
    pub skills: &'a [String],
    /// Language of the labels shown.
    pub lang: &'a Lang,
    /// Kinds ranked (occupations and profiles by default).
    pub kinds: &'a [Kind],
    pub limit: usize,
    pub deadline: Deadline,
}

/// How the skills resolved, and the ranked targets.
#[derive(Debug, Clone, Serialize)]
pub struct MatchOutcome {
    pub resolved: Vec<ResolvedSkill>,
    pub unresolved: Vec<UnresolvedSkill>,
    pub matches: Vec<SkillMatch>,
}

/// Resolves the skills and ranks the targets: the one path of `/match` and its benchmark.
pub fn match_texts(
    searcher: &Searcher,
    catalog: &Catalog,
    graph: &RelationGraph,
    query: MatchQuery<'_>,
) -> Result<MatchOutcome> {
    let (resolved, unresolved) = resolve_skills(
        searcher,
        catalog,
        query.skills,
        query.lang,
        &[Kind::Skill],
        query.deadline,
    )?;
    let matches = match_skills(catalog, graph, &resolved, query.kinds, query.lang, query.limit);
    Ok(MatchOutcome {
        resolved,
        unresolved,
        matches,
    })
}

/// Ranks targets of `kinds` by weighted coverage of `skills`.
pub fn match_skills(
    catalog: &Catalog,
    graph: &RelationGraph,
    skills: &[ResolvedSkill],
    kinds: &[Kind],
    lang: &Lang,
    limit: usize,
) -> Vec<SkillMatch> {
    let given: HashSet<ConceptId> = skills.iter().map(|s| ConceptId::new(s.id.as_str())).collect();
    let targets = graph.skills_of.len().max(1) as f64;
    let idf = |skill: &ConceptId| {
        let df = graph.targets_of.get(skill).map_or(0, Vec::len).max(1) as f64;
        (1.0 + targets / df).ln()
    };
    // Each input with the skills it resolved to and its weight (its most specific skill).
    let mut inputs: BTreeMap<&str, Vec<ConceptId>> = BTreeMap::new();
    for skill in skills {
        inputs
            .entry(skill.input.as_str())
            .or_default()
            .push(ConceptId::new(skill.id.as_str()));
    }
    let input_weight = |ids: &[ConceptId]| ids.iter().map(&idf).fold(0.0, f64::max);
    let inputs_total: f64 = inputs.values().map(|ids| input_weight(ids)).sum();
    let mut candidates: BTreeMap<&ConceptId, ()> = BTreeMap::new();
    for skill in &given {
        for (target, _) in graph.targets_of.get(skill).into_iter().flatten() {
            candidates.insert(target, ());
        }
    }
    let mut matches: Vec<SkillMatch> = candidates
        .into_keys()
        .filter_map(|target| {
            let concept = catalog.concepts.get(target).filter(|c| kinds.contains(&c.kind))?;
            let listed = graph.skills_of.get(target)?;
            let (mut essential, mut optional) = (HashSet::new(), HashSet::new());
            for (skill, is_essential) in listed {
                if *is_essential {
                    essential.insert(skill);
                } else {
                    optional.insert(skill);
                }
            }
            // A skill listed both ways counts as essential.
            optional.retain(|s| !essential.contains(s));
            let essential_matched = essential.iter().filter(|s| given.contains(**s)).count();
            let optional_matched = optional.iter().filter(|s| given.contains(**s)).count();
            let weigh = |set: &HashSet<&ConceptId>, only_given: bool| -> f64 {
                set.iter()
                    .filter(|s| !only_given || given.contains(**s))
                    .map(|s| idf(s))
                    .sum()
            };
            let total = ESSENTIAL_WEIGHT * weigh(&essential, false) + OPTIONAL_WEIGHT * weigh(&optional, false);
            let covered = ESSENTIAL_WEIGHT * weigh(&essential, true) + OPTIONAL_WEIGHT * weigh(&optional, true);
            let target_coverage = if total > 0.0 { covered / total } else { 0.0 };
            let user_covered: f64 = inputs
                .values()
                .filter(|ids| ids.iter().any(|id| essential.contains(id) || optional.contains(id)))
                .map(|ids| input_weight(ids))
                .sum();
            let user_coverage = if inputs_total > 0.0 {
                user_covered / inputs_total
            } else {
                0.0
            };
            let score = f1(target_coverage, user_coverage);
            let mut matched_skills: Vec<LinkedConcept> = essential
                .iter()
                .chain(optional.iter())
                .filter(|s| given.contains(**s))
                .filter_map(|s| linked(catalog, s, lang, None))
                .collect();
            matched_skills.sort_by(|a, b| a.label.cmp(&b.label));
            let mut missing_essential: Vec<GapSkill> = essential
                .iter()
                .filter(|s| !given.contains(**s))
                .filter_map(|s| {
                    let skill = linked(catalog, s, lang, None)?;
                    // As if the user had given it too: both coverages grow by its weight.
                    let weight = idf(s);
                    let with_it = f1(
                        if total > 0.0 {
                            (covered + ESSENTIAL_WEIGHT * weight) / total
                        } else {
                            0.0
                        },
                        (user_covered + weight) / (inputs_total + weight),
                    );
                    Some(GapSkill {
                        skill,
                        gain: with_it - score,
                        materials: gap_materials(catalog, graph, s, lang),
                    })
                })
                .collect();
            missing_essential.sort_by(|a, b| {
                b.gain
                    .total_cmp(&a.gain)
                    .then_with(|| a.skill.label.cmp(&b.skill.label))
            });
            let (used, label) = concept.display_label(lang)?;
            Some(SkillMatch {
                id: target.to_string(),
                kind: concept.kind,
                source: concept.source.clone(),
                label: label.to_string(),
                lang: used.to_string(),
                score,
                breakdown: CoverageBreakdown {
                    target_coverage,
                    user_coverage,
                    essential_matched,
                    essential_total: essential.len(),
                    optional_matched,
                    optional_total: optional.len(),
                    essential_weight: ESSENTIAL_WEIGHT,
                    optional_weight: OPTIONAL_WEIGHT,
                },
                matched_skills,
                missing_essential,
            })
        })
        .collect();
    matches.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.matched_skills.len().cmp(&a.matched_skills.len()))
            .then_with(|| a.id.cmp(&b.id))
    });
    matches.truncate(limit);
    matches
}

/// Materials linked to `skill` by a covers relation, directly or one broader/narrower step away
/// (as `materials_for_skills` reaches them by relation), the direct ones first.
fn gap_materials(catalog: &Catalog, graph: &RelationGraph, skill: &ConceptId, lang: &Lang) -> Vec<LinkedConcept> {
    let reached = std::iter::once(skill).chain(graph.neighbours.get(skill).into_iter().flatten());
    let mut seen = HashSet::new();
    reached
        .flat_map(|concept| graph.covered_by.get(concept).into_iter().flatten())
        .filter(|material| seen.insert(*material))
        .filter_map(|material| linked(catalog, material, lang, None))
        .filter(|material| material.kind == Kind::Material)
        .take(GAP_MATERIALS)
        .collect()
}

/// How a material covers one skill.
#[derive(Debug, Clone, Serialize)]
pub struct CoveredSkill {
    /// The skill as the request gave it.
    pub input: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    pub label: String,
    /// `relation` (the source links them, directly or through a broader/narrower concept),
    /// `similarity` (a label or description of the material is close to the skill's label), or
    /// `text` (close to a free text that resolved to no skill; `id` is then empty).
    pub via: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MaterialMatch {
    pub id: String,
    pub label: String,
    pub lang: String,
    pub source: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub eqf_levels: Vec<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Skills of the request covered / skills in the request.
    pub coverage: f64,
    /// Sum over covered skills of the best similarity (1 for a relation): breaks coverage ties.
    pub relevance: f64,
    pub covers: Vec<CoveredSkill>,
}

/// The vector of a concept's best text for matching: its preferred label in `lang`, else
/// English, else the first stored entry; embedded anew when the store lacks it.
fn skill_vector(searcher: &Searcher, skill: &ResolvedSkill) -> Result<Option<Vec<f32>>> {
    let Some(store) = searcher.index.vectors.as_ref().filter(|_| searcher.vectors_available()) else {
        return Ok(None);
    };
    let stored = store
        .entries
        .entries
        .iter()
        .enumerate()
        .filter(|(_, e)| store.entries.concepts[e.concept as usize].id == skill.id)
        .min_by_key(|(_, e)| (e.lang != skill.lang, e.lang != "en"))
        .map(|(position, _)| position);
    match stored {
        Some(position) => Ok(Some(store.vector(position).to_vec())),
        None => searcher.embed_query(&skill.label),
    }
}

/// Which materials `materials_for_skills` returns, and until when it may work.
#[derive(Debug, Clone, Copy)]
pub struct MaterialsQuery<'a> {
    /// Free texts that resolved to no skill: each still looks for materials by itself (the
    /// text says what the user wants taught).
    pub free_texts: &'a [String],
    /// Only materials at this EQF level.
    pub eqf: Option<u8>,
    /// Language of the labels shown.
    pub lang: &'a Lang,
    pub limit: usize,
    pub deadline: Deadline,
}

/// Ranks materials by how many of `skills` they cover, then by relevance.
pub fn materials_for_skills(
    searcher: &Searcher,
    catalog: &Catalog,
    graph: &RelationGraph,
    skills: &[ResolvedSkill],
    query: MaterialsQuery<'_>,
) -> Result<Vec<MaterialMatch>> {
    let MaterialsQuery {
        free_texts,
        eqf,
        lang,
        limit,
        deadline,
    } = query;
    let mut covered: BTreeMap<ConceptId, Vec<CoveredSkill>> = BTreeMap::new();
    let mut texts_probed: HashSet<&str> = HashSet::new();
    for skill in skills {
        deadline.check("finding materials")?;
        let id = ConceptId::new(skill.id.as_str());
        let mut reached: HashSet<&ConceptId> = HashSet::from([&id]);
        reached.extend(graph.neighbours.get(&id).into_iter().flatten());
        for concept in reached {
            for material in graph.covered_by.get(concept).into_iter().flatten() {
                let list = covered.entry(material.clone()).or_default();
                if !list.iter().any(|c| c.id == skill.id) {
                    list.push(CoveredSkill {
                        input: skill.input.clone(),
                        id: skill.id.clone(),
                        label: skill.label.clone(),
                        via: "relation",
                        similarity: None,
                    });
                }
            }
        }
        let Some(store) = searcher.index.vectors.as_ref() else {
            continue;
        };
        // A free text also searches by itself: when it resolved to a loosely related skill, the
        // text still says what the user wants taught.
        let mut probes: Vec<Vec<f32>> = skill_vector(searcher, skill)?.into_iter().collect();
        if skill.via == "search" && texts_probed.insert(skill.input.as_str()) {
            probes.extend(searcher.embed_query(&skill.input)?);
        }
        let materials_only = |_: &VectorEntry, concept: &VectorConcept| concept.kind == Kind::Material;
        let mut best: HashMap<&str, f32> = HashMap::new();
        for vector in &probes {
            for found in store.search(vector, 200, Some(&materials_only))? {
                if found.similarity >= MATERIAL_SIMILARITY {
                    let id = store.concept_of(found.entry).id.as_str();
                    let entry = best.entry(id).or_insert(found.similarity);
                    *entry = entry.max(found.similarity);
                }
            }
        }
        for (material, similarity) in best {
            let list = covered.entry(ConceptId::new(material)).or_default();
            if !list.iter().any(|c| c.id == skill.id) {
                list.push(CoveredSkill {
                    input: skill.input.clone(),
                    id: skill.id.clone(),
                    label: skill.label.clone(),
                    via: "similarity",
                    similarity: Some(similarity),
                });
            }
        }
    }
    if let Some(store) = searcher.index.vectors.as_ref() {
        let materials_only = |_: &VectorEntry, concept: &VectorConcept| concept.kind == Kind::Material;
        for text in free_texts {
            deadline.check("finding materials")?;
            let Some(vector) = searcher.embed_query(text)? else {
                break;
            };
            for found in store.search(&vector, 200, Some(&materials_only))? {
                if found.similarity < MATERIAL_SIMILARITY {
                    continue;
                }
                let id = ConceptId::new(store.concept_of(found.entry).id.as_str());
                let list = covered.entry(id).or_default();
                match list.iter_mut().find(|c| c.via == "text" && &c.input == text) {
                    Some(existing) => {
                        existing.similarity = Some(existing.similarity.unwrap_or(0.0).max(found.similarity));
                    }
                    None => list.push(CoveredSkill {
                        input: text.clone(),
                        id: String::new(),
                        label: text.clone(),
                        via: "text",
                        similarity: Some(found.similarity),
                    }),
                }
            }
        }
    }
    // Coverage counts the request's skills, not what they resolved to (one text may resolve
    // to a skill in several sources).
    let asked = skills
        .iter()
        .map(|s| &s.input)
        .chain(free_texts)
        .collect::<HashSet<_>>()
        .len()
        .max(1) as f64;
    let mut materials: Vec<MaterialMatch> = covered
        .into_iter()
        .filter_map(|(id, covers)| {
            let concept = catalog.concepts.get(&id).filter(|c| c.kind == Kind::Material)?;
            if eqf.is_some_and(|level| !concept.attributes.eqf_levels.contains(&level)) {
                return None;
            }
            let (used, label) = concept.display_label(lang)?;
            let relevance = covers.iter().map(|c| f64::from(c.similarity.unwrap_or(1.0))).sum();
            Some(MaterialMatch {
                id: id.to_string(),
                label: label.to_string(),
                lang: used.to_string(),
                source: concept.source.clone(),
                eqf_levels: concept.attributes.eqf_levels.clone(),
                url: concept.attributes.url.clone(),
                coverage: covers.iter().map(|c| &c.input).collect::<HashSet<_>>().len() as f64 / asked,
                relevance,
                covers,
            })
        })
        .collect();
    materials.sort_by(|a, b| {
        b.coverage
            .total_cmp(&a.coverage)
            .then(b.relevance.total_cmp(&a.relevance))
            .then_with(|| a.id.cmp(&b.id))
    });
    materials.truncate(limit);
    Ok(materials)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Concept, LanguageLabels, Relation};

    fn concept(id: &str, kind: Kind) -> Concept {
        let mut concept = Concept::new(ConceptId::new(id), kind, "esco");
        let labels = LanguageLabels {
            preferred: Some(id.to_string()),
            ..Default::default()
        };
        concept.labels.insert(Lang::english(), labels);
        concept
    }

    fn given(ids: &[&str]) -> Vec<ResolvedSkill> {
        ids.iter()
            .map(|id| ResolvedSkill {
                input: id.to_string(),
                id: id.to_string(),
                kind: Kind::Skill,
                source: "esco".into(),
                label: id.to_string(),
                lang: "en".into(),
                via: "id",
                similarity: None,
                confidence: 1.0,
            })
            .collect()
    }

    /// Twenty occupations list the generic skill; `specialist` also lists the rare one and
    /// three more; `small` lists only the generic skill.
    fn catalog() -> Catalog {
        let mut catalog = Catalog::default();
        let essential = |from: &str, to: &str| Relation {
            from: ConceptId::new(from),
            relation: RelationType::EssentialSkill,
            to: ConceptId::new(to),
            level: None,
        };
        for skill in ["generic", "rare", "s1", "s2", "s3"] {
            catalog.merge(concept(skill, Kind::Skill));
        }
        for occupation in ["specialist", "small"] {
            catalog.merge(concept(occupation, Kind::Occupation));
        }
        catalog.relations.push(essential("small", "generic"));
        for skill in ["generic", "rare", "s1", "s2", "s3"] {
            catalog.relations.push(essential("specialist", skill));
        }
        // s1 is more common than s2 and s3; a course covers s2.
        catalog.relations.push(essential("other0", "s1"));
        catalog.relations.push(essential("other1", "s1"));
        catalog.merge(concept("course", Kind::Material));
        catalog.relations.push(Relation {
            from: ConceptId::new("course"),
            relation: RelationType::Covers,
            to: ConceptId::new("s2"),
            level: None,
        });
        for n in 0..20 {
            let id = format!("other{n}");
            catalog.merge(concept(&id, Kind::Occupation));
            catalog.relations.push(essential(&id, "generic"));
            catalog.relations.push(essential(&id, &format!("own{n}")));
            catalog.merge(concept(&format!("own{n}"), Kind::Skill));
        }
        catalog
    }

    #[test]
    fn a_shared_rare_skill_outweighs_size_and_generic_skills() {
        let catalog = catalog();
        let graph = RelationGraph::new(&catalog);
        let english = Lang::english();
        let ranked = match_skills(
            &catalog,
            &graph,
            &given(&["generic", "rare"]),
            &[Kind::Occupation],
            &english,
            5,
        );
        assert_eq!(ranked[0].id, "specialist", "{ranked:?}");
        // Plain coverage would put `small` first: 1 of its 1 skill against 2 of 5.
        let small = ranked.iter().find(|m| m.id == "small").unwrap();
        assert_eq!(small.breakdown.target_coverage, 1.0);
        assert!(small.breakdown.user_coverage < 0.5, "{small:?}");
        // The gap: the rarer missing skills first (they raise the score more), with materials.
        let gap: Vec<(&str, bool)> = ranked[0]
            .missing_essential
            .iter()
            .map(|g| (g.skill.id.as_str(), !g.materials.is_empty()))
            .collect();
        assert_eq!(
            gap,
            vec![("s2", true), ("s3", false), ("s1", false)],
            "{:?}",
            ranked[0].missing_essential
        );
        assert!(ranked[0].missing_essential.iter().all(|g| g.gain > 0.0));
        assert!(ranked[0].missing_essential[0].gain > ranked[0].missing_essential[2].gain);
        let top = &ranked[0].breakdown;
        let f1 = 2.0 * top.target_coverage * top.user_coverage / (top.target_coverage + top.user_coverage);
        assert!((ranked[0].score - f1).abs() < 1e-12);
    }

    fn hit(label: &str, matched_terms: &[&str], similarity: Option<f32>) -> crate::search::Hit {
        crate::search::Hit {
            id: "s".into(),
            kind: Some(Kind::Skill),
            label: label.into(),
            lang: "fr".into(),
            english_label: None,
            source: "esco".into(),
            score: 1.0,
            matched_label: Some(label.into()),
            matched_lang: Some("fr".into()),
            matched_terms: matched_terms.iter().map(|t| t.to_string()).collect(),
            text_rank: None,
            text_score: None,
            vector_rank: None,
            vector: similarity.map(|similarity| crate::search::VectorEvidence {
                label: label.into(),
                lang: "fr".into(),
                field: crate::index::vectors::EmbeddedField::Preferred,
                similarity,
            }),
        }
    }

    fn words(text: &str) -> Vec<String> {
        crate::analyze::words(&crate::analyze::fold(text))
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn only_confident_evidence_resolves_a_free_text() {
        // Near labels by embedding resolve; unrelated ones (0.8–0.89) do not.
        assert_eq!(
            confidence(
                &hit("techniques de télédétection", &[], Some(0.97)),
                &words("télédétection")
            ),
            Some(0.97)
        );
        assert_eq!(confidence(&hit("STAF", &[], Some(0.87)), &words("asdf")), None);
        // A label holding every word resolves unless its embedding disowns it.
        let every = hit("utiliser un four en brique", &["utiliser", "un", "four"], None);
        assert_eq!(confidence(&every, &words("utiliser un four")), Some(RESOLVE_SIMILARITY));
        let disowned = hit("traiter les paiements", &["pain"], Some(0.82));
        assert_eq!(confidence(&disowned, &words("pain")), None);
        // Short texts need a label equal to them.
        assert_eq!(confidence(&hit("XQuery", &[], Some(0.91)), &words("x")), None);
        assert_eq!(
            confidence(&hit("use X-ray machines", &["x"], Some(0.89)), &words("x")),
            None
        );
        assert_eq!(confidence(&hit("R", &["r"], Some(0.95)), &words("R")), Some(1.0));
    }
}
