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
//!
//! A listed skill that was not given but is close to one that was counts in part, as BERTScore
//! (Zhang et al. 2020) matches each token to its most similar one with idf weights and a rescaled
//! cosine: `credit(s) = max_i (cos(s, g_i) − b) / (1 − b)` over the given skills g_i, 0 below b
//! ([`RELATED_FLOOR`], the cosine of unrelated ESCO skill labels), 1 for a given skill. Both sums
//! above weigh each skill by its credit (`C_t`), and each input by its best credit in the target
//! (`C_u`): "Datenbank" partly covers "use databases" (cos 0.95), not "learning difficulties" for
//! "machine learning" (0.91). Cosines are between the skills' English preferred labels; for a
//! free text that resolved, also between the text and each skill label its search found,
//! rescaled from [`RESOLVE_SIMILARITY`] (a label that close would have resolved it): "pétrir la
//! pâte" resolves to "préparer des pâtes" but also partly holds "pétrir des denrées
//! alimentaires".
//!
//! ESCO's lists are incomplete (its data scientist lists neither Python nor machine learning), so
//! coverage is fused with meaning: the user's skills joined into one text, searched against the
//! targets' labels by embedding (the 100 nearest). CombSUM of min-max normalised scores (Fox &
//! Shaw 1994): `score(t) = (1 − λ)·cov(t) / max cov + λ·(cos(t) − cos_min) / (cos_max − cos_min)`,
//! λ = [`SEMANTIC_WEIGHT`], the cosines over that list, 0 for a target outside it. Only targets
//! that share a skill (exactly or in part) are ranked.

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

/// Below this cosine two skills' English labels count as unrelated (multilingual-e5: "machine
/// learning" and "learning difficulties" 0.911, "database" and "use databases" 0.951, "data
/// analytics" and "perform data analysis" 0.961).
pub const RELATED_FLOOR: f32 = 0.92;
/// Share of meaning in the fused score. Chosen on the matching benchmark (30 occupations,
/// 420 cases): mean MRR 0.836 coverage alone, 0.827 with partial credit, then 0.816 / 0.809 /
/// 0.789 at 0.2 / 0.25 / 0.35; rank fusion (RRF, k = 60) cost far more (0.733 at weight 0.15).
pub const SEMANTIC_WEIGHT: f64 = 0.25;
/// Targets in the ranking by meaning.
const SEMANTIC_DEPTH: usize = 100;
/// Nearest skills looked up per given skill for partial credit.
const RELATED_PER_SKILL: usize = 50;

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

/// How an input found its skill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ResolvedVia {
    /// The input was a concept id.
    Id,
    /// The input was free text, searched.
    Search,
}

/// How a material was found for a skill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CoverVia {
    /// The source links them, directly or through a broader/narrower concept.
    Relation,
    /// A label or description of the material is close to the skill's label.
    Similarity,
    /// Close to a free text that resolved to no skill.
    Text,
}

impl CoverVia {
    pub fn as_str(self) -> &'static str {
        match self {
            CoverVia::Relation => "relation",
            CoverVia::Similarity => "similarity",
            CoverVia::Text => "text",
        }
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
    pub via: ResolvedVia,
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
/// Fewest letters of a word that carries meaning on its own: shorter ones ("x", "le", "du") do
/// not resolve a text alone, and a label need not hold them.
const MEANINGFUL_WORD_CHARS: usize = 3;

/// The confidence of resolving a text whose folded words are `words` to `hit`; `None` below
/// the bar.
fn confidence(hit: &super::Hit, words: &[String]) -> Option<f32> {
    let similarity = hit.vector.as_ref().map(|v| v.similarity);
    let meaningful = |w: &&String| w.chars().count() >= MEANINGFUL_WORD_CHARS;
    // Too short to mean anything but a label of its own ("R", "C"): "x" is no X-ray skill and
    // no XQuery, however near their embeddings sit.
    if !words.iter().any(|w| meaningful(&w)) {
        let label = hit.matched_label.as_deref().unwrap_or(&hit.label);
        let exact = crate::analyze::words(&crate::analyze::fold(label)).eq(words.iter().map(String::as_str));
        return exact.then_some(1.0);
    }
    if let Some(similarity) = similarity.filter(|&s| s >= RESOLVE_SIMILARITY) {
        return Some(similarity.min(1.0));
    }
    // Every meaningful word: "le" of "cuire le pain" is in no label of bread.
    let every_word = words
        .iter()
        .filter(meaningful)
        .all(|w| hit.matched_terms.iter().any(|t| t == w));
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
    resolve_into(searcher, catalog, inputs, lang, kinds, deadline, None)
}

/// [`resolve_skills`], also recording in `near` (when given) the skills close to each resolved free text by
/// embedding (partial credit for matching: "pétrir la pâte" is near "pétrir des denrées
/// alimentaires" even when it resolved to another skill).
fn resolve_into(
    searcher: &Searcher,
    catalog: &Catalog,
    inputs: &[String],
    lang: &Lang,
    kinds: &[Kind],
    deadline: Deadline,
    mut near: Option<&mut RelatedSkills>,
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
                via: ResolvedVia::Id,
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
        let mut hits = searcher.search(&request)?.hits;
        let mut sources_taken: HashSet<String> = HashSet::new();
        let before = resolved.len();
        let mut lexical_resolved = false;
        let mut take = |hit: &super::Hit, position: usize, lexical_best: bool| -> bool {
            let similarity = hit.vector.as_ref().map(|v| v.similarity);
            let close = similarity.is_some_and(|s| s >= OTHER_SOURCE_SIMILARITY);
            if !(position == 0 || close || lexical_best) {
                return false;
            }
            // Every candidate must be confident on its own: the fused best of "x" or "asdf", or
            // the lexical best of "cuire le pain" (paiements), is no skill of the user's.
            let Some(confidence) = confidence(hit, &words) else {
                return false;
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
                    via: ResolvedVia::Search,
                    similarity,
                    confidence,
                });
            }
            true
        };
        for (position, hit) in hits.iter().enumerate() {
            // The best lexical match is kept beside the fused best: with a small model, a single
            // foreign word ("Fernerkundung") can sit nearer an unrelated label than its own
            // translation, while the text side finds it among the labels in that language.
            let lexical_best = hit.text_rank == Some(1);
            lexical_resolved |= take(hit, position, lexical_best) && lexical_best;
        }
        if !lexical_resolved {
            // The lexical best of every language was not confident: a text searched in every
            // language meets other languages' stems ("pain" and the French "paiements" share one
            // under another language's stemmer), which can push the label holding every word of
            // it ("cuire du pain" for "cuire le pain") below the first text rank. The lexical best
            // among the labels in the request's language is then a candidate, as confident as any.
            deadline.check("resolving skills")?;
            request.lang = Some(lang.clone());
            let in_lang = searcher.search(&request)?.hits;
            if let Some(best) = in_lang.into_iter().find(|hit| hit.text_rank == Some(1)) {
                let known = hits.iter().any(|hit| hit.id == best.id);
                if take(&best, hits.len(), true) && !known {
                    hits.push(best);
                }
            }
        }
        if resolved.len() > before {
            // Only a text that resolved says what it is; its other near labels count in part.
            if let Some(near) = near.as_deref_mut() {
                for hit in &hits {
                    if let Some(similarity) = hit.vector.as_ref().map(|v| v.similarity) {
                        near.insert_scaled(input, ConceptId::new(hit.id.as_str()), similarity, RESOLVE_SIMILARITY);
                    }
                }
            }
        } else {
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
    // One entry per input and skill: two inputs that name one skill both stay resolved (each
    // counts as given; matching and materials take the skill once).
    let mut seen = HashSet::new();
    resolved.retain(|r| seen.insert((r.input.clone(), r.id.clone())));
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
    /// Listed skills not given but near a given one, counted in part.
    pub partly_matched: usize,
    pub essential_weight: f64,
    pub optional_weight: f64,
    /// The coverage score `2·C_t·C_u / (C_t + C_u)`, and its rank among the targets.
    pub coverage: f64,
    pub coverage_rank: usize,
    /// Rank and cosine of the target in the search of the joined skills by meaning (absent
    /// beyond its depth or without vectors).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub semantic_rank: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub semantic_similarity: Option<f32>,
}

/// One occupation or profile ranked for a set of skills.
#[derive(Debug, Clone, Serialize)]
pub struct SkillMatch {
    pub id: String,
    pub kind: Kind,
    pub source: String,
    pub label: String,
    pub lang: String,
    /// The fused score in [0, 1] (see the module documentation): coverage fused with meaning, or
    /// the coverage itself when there are no vectors.
    pub score: f64,
    pub breakdown: CoverageBreakdown,
    pub matched_skills: Vec<LinkedConcept>,
    /// Listed skills near a given one, the nearest first (see [`RELATED_FLOOR`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub partly_matched: Vec<PartialSkill>,
    /// The gap: essential skills of the target not among the given ones, the one that would
    /// raise the score most first.
    pub missing_essential: Vec<GapSkill>,
}

/// A listed skill that was not given but is near one that was.
#[derive(Debug, Clone, Serialize)]
pub struct PartialSkill {
    #[serde(flatten)]
    pub skill: LinkedConcept,
    /// The input whose skill is near it.
    pub input: String,
    /// Its share of a match, in (0, 1): the rescaled cosine of the two skills' labels.
    pub credit: f64,
}

/// One missing essential skill: how much having it would raise the match, and the training
/// materials that cover it.
#[derive(Debug, Clone, Serialize)]
pub struct GapSkill {
    #[serde(flatten)]
    pub skill: LinkedConcept,
    /// The score with this skill given too, minus the score now.
    pub gain: f64,
    /// At most [`GAP_MATERIALS`] materials that cover the skill as `/materials/for-skills`
    /// finds them: linked by relation (directly or one broader/narrower step away) first, then
    /// close by similarity.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub materials: Vec<GapMaterial>,
}

/// A material for a missing skill, and how it was found.
#[derive(Debug, Clone, Serialize)]
pub struct GapMaterial {
    #[serde(flatten)]
    pub material: LinkedConcept,
    pub via: CoverVia,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f32>,
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
    let mut near_texts = RelatedSkills::default();
    let (resolved, unresolved) = resolve_into(
        searcher,
        catalog,
        query.skills,
        query.lang,
        &[Kind::Skill],
        query.deadline,
        Some(&mut near_texts),
    )?;
    let mut related = related_skills(searcher, &resolved, query.deadline)?;
    related.merge(near_texts);
    let evidence = MatchEvidence {
        related,
        semantic: semantic_ranks(searcher, &resolved, query.skills, query.kinds)?,
    };
    let mut matches = match_skills(
        catalog,
        graph,
        &resolved,
        &evidence,
        query.kinds,
        query.lang,
        query.limit,
    );
    attach_gap_materials(searcher, catalog, graph, &mut matches, query.lang, query.deadline)?;
    Ok(MatchOutcome {
        resolved,
        unresolved,
        matches,
    })
}

/// Per input, the skills near the ones it resolved to and their credit in (0, 1) (see the
/// module documentation); empty without vectors (exact matches only).
#[derive(Debug, Default, Clone)]
pub struct RelatedSkills {
    by_input: BTreeMap<String, HashMap<ConceptId, f64>>,
}

impl RelatedSkills {
    /// Keeps the larger credit of each input and skill.
    fn merge(&mut self, other: RelatedSkills) {
        for (input, skills) in other.by_input {
            let mine = self.by_input.entry(input).or_default();
            for (skill, credit) in skills {
                let slot = mine.entry(skill).or_insert(0.0);
                *slot = slot.max(credit);
            }
        }
    }

    /// `input`'s credit for `skill` (0 when not near).
    fn credit(&self, input: &str, skill: &ConceptId) -> f64 {
        self.by_input
            .get(input)
            .and_then(|m| m.get(skill))
            .copied()
            .unwrap_or(0.0)
    }

    /// Records that `skill` is near a skill `input` resolved to, at cosine `similarity`.
    pub fn insert(&mut self, input: &str, skill: ConceptId, similarity: f32) {
        self.insert_scaled(input, skill, similarity, RELATED_FLOOR);
    }

    /// Records `skill` near `input` at `similarity`, rescaled from `floor` (its "unrelated").
    fn insert_scaled(&mut self, input: &str, skill: ConceptId, similarity: f32, floor: f32) {
        let credit = f64::from((similarity - floor) / (1.0 - floor)).clamp(0.0, 1.0);
        if credit > 0.0 {
            let slot = self
                .by_input
                .entry(input.to_string())
                .or_default()
                .entry(skill)
                .or_insert(0.0);
            *slot = slot.max(credit);
        }
    }
}

/// Evidence beyond exact skill matches: near skills, and the targets nearest in meaning.
#[derive(Debug, Default, Clone)]
pub struct MatchEvidence {
    pub related: RelatedSkills,
    /// Target → (rank from 1, cosine) in the search of the joined skills by embedding.
    pub semantic: HashMap<ConceptId, (usize, f32)>,
}

/// The targets of `kinds` nearest in meaning to the skills joined into one text (free texts as
/// typed, ids by their label), by embedding; empty without vectors.
fn semantic_ranks(
    searcher: &Searcher,
    resolved: &[ResolvedSkill],
    inputs: &[String],
    kinds: &[Kind],
) -> Result<HashMap<ConceptId, (usize, f32)>> {
    if !searcher.vectors_available() {
        return Ok(HashMap::new());
    }
    let mut joined = String::new();
    for input in inputs {
        // An id says nothing by itself: its label does.
        let text = match resolved.iter().find(|r| &r.input == input && r.via == ResolvedVia::Id) {
            Some(skill) => skill.label.as_str(),
            None => input.trim(),
        };
        if joined.chars().count() + text.chars().count() + 2 > super::MAX_QUERY_CHARS {
            break;
        }
        if !joined.is_empty() {
            joined.push_str(", ");
        }
        joined.push_str(text);
    }
    if joined.is_empty() {
        return Ok(HashMap::new());
    }
    // Skills joined into one text are not a job title: the general model, which embeds skills,
    // compares them with the targets' labels, also where job titles have a model of their own.
    Ok(searcher
        .nearest_by_general_model(&joined, kinds, SEMANTIC_DEPTH)?
        .into_iter()
        .enumerate()
        .map(|(position, (id, similarity))| (id, (position + 1, similarity)))
        .collect())
}

/// The skills near each resolved skill, by the cosine of English preferred labels (one exact
/// scan per resolved skill over the skill labels).
pub fn related_skills(searcher: &Searcher, resolved: &[ResolvedSkill], deadline: Deadline) -> Result<RelatedSkills> {
    let mut related = RelatedSkills::default();
    let Some(store) = searcher
        .index
        .store_of_kind(Kind::Skill)
        .filter(|_| searcher.vectors_available())
    else {
        return Ok(related);
    };
    // Each skill concept's English preferred label, else its only preferred labels.
    let preferred = |entry: &VectorEntry, concept: &VectorConcept| {
        concept.kind == Kind::Skill
            && entry.field == crate::index::vectors::EmbeddedField::Preferred
            && (entry.lang == "en" || !concept.labels.iter().any(|(lang, _)| lang == "en"))
    };
    let among: Vec<usize> = (0..store.len())
        .filter(|&e| preferred(&store.entries.entries[e], store.concept_of(e)))
        .collect();
    let mut own: HashMap<&str, usize> = HashMap::new();
    for &entry in &among {
        own.entry(store.concept_of(entry).id.as_str()).or_insert(entry);
    }
    for skill in resolved {
        deadline.check("relating skills")?;
        let Some(&entry) = own.get(skill.id.as_str()) else {
            continue;
        };
        for found in store.exact_among(store.vector(entry), RELATED_PER_SKILL, &among) {
            let id = store.concept_of(found.entry).id.as_str();
            if id != skill.id {
                related.insert(&skill.input, ConceptId::new(id), found.similarity);
            }
        }
    }
    Ok(related)
}

/// Ranks targets of `kinds` by weighted coverage of `skills`, near skills counting in part
/// (`related`; empty for exact matches only).
pub fn match_skills(
    catalog: &Catalog,
    graph: &RelationGraph,
    skills: &[ResolvedSkill],
    evidence: &MatchEvidence,
    kinds: &[Kind],
    lang: &Lang,
    limit: usize,
) -> Vec<SkillMatch> {
    let related = &evidence.related;
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
    // How much the given skills hold of `skill` (1 given, else its best partial credit), and
    // through which input.
    // Each near skill's best partial credit and the input it comes from, found once for all
    // targets (at a tie, the first input in order).
    let mut near_best: HashMap<&ConceptId, (f64, &str)> = HashMap::new();
    for (input, skills) in &related.by_input {
        let Some((input, _)) = inputs.get_key_value(input.as_str()) else {
            continue;
        };
        for (skill, &credit) in skills {
            let slot = near_best.entry(skill).or_insert((0.0, input));
            if credit > slot.0 {
                *slot = (credit, input);
            }
        }
    }
    let credit = |skill: &ConceptId| -> (f64, Option<&str>) {
        if given.contains(skill) {
            return (1.0, None);
        }
        near_best
            .get(skill)
            .map_or((0.0, None), |&(credit, input)| (credit, Some(input)))
    };
    let mut candidates: BTreeMap<&ConceptId, ()> = BTreeMap::new();
    for skill in given.iter().chain(near_best.keys().copied()) {
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
            let weigh = |set: &HashSet<&ConceptId>, credited: bool| -> f64 {
                set.iter()
                    .map(|s| idf(s) * if credited { credit(s).0 } else { 1.0 })
                    .sum()
            };
            let total = ESSENTIAL_WEIGHT * weigh(&essential, false) + OPTIONAL_WEIGHT * weigh(&optional, false);
            let covered = ESSENTIAL_WEIGHT * weigh(&essential, true) + OPTIONAL_WEIGHT * weigh(&optional, true);
            let target_coverage = if total > 0.0 { covered / total } else { 0.0 };
            // Each input by its best credit here: 1 when the target lists a skill it resolved
            // to, else the nearest listed skill's partial credit.
            let input_credit = |input: &str, ids: &[ConceptId]| -> f64 {
                if ids.iter().any(|id| essential.contains(id) || optional.contains(id)) {
                    return 1.0;
                }
                essential
                    .iter()
                    .chain(optional.iter())
                    .map(|s| related.credit(input, s))
                    .fold(0.0, f64::max)
            };
            let user_covered: f64 = inputs
                .iter()
                .map(|(input, ids)| input_weight(ids) * input_credit(input, ids))
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
            let mut partly_matched: Vec<PartialSkill> = essential
                .iter()
                .chain(optional.iter())
                .filter_map(|s| match credit(s) {
                    (credit, Some(input)) if credit > 0.0 => Some(PartialSkill {
                        skill: linked(catalog, s, lang, None)?,
                        input: input.to_string(),
                        credit,
                    }),
                    _ => None,
                })
                .collect();
            partly_matched.sort_by(|a, b| b.credit.total_cmp(&a.credit).then_with(|| a.skill.id.cmp(&b.skill.id)));
            let mut missing_essential: Vec<GapSkill> = essential
                .iter()
                .filter(|s| !given.contains(**s))
                .filter_map(|s| {
                    let skill = linked(catalog, s, lang, None)?;
                    // As if the user had given it too: its credit becomes 1 and it weighs in
                    // the user's skills as one more input.
                    let weight = idf(s);
                    let with_it = f1(
                        if total > 0.0 {
                            (covered + ESSENTIAL_WEIGHT * weight * (1.0 - credit(s).0)) / total
                        } else {
                            0.0
                        },
                        (user_covered + weight) / (inputs_total + weight),
                    );
                    Some(GapSkill {
                        skill,
                        gain: with_it - score,
                        // Found for the returned targets only ([`attach_gap_materials`]).
                        materials: Vec::new(),
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
                    partly_matched: partly_matched.len(),
                    essential_weight: ESSENTIAL_WEIGHT,
                    optional_weight: OPTIONAL_WEIGHT,
                    coverage: score,
                    coverage_rank: 0,
                    semantic_rank: evidence.semantic.get(target).map(|&(rank, _)| rank),
                    semantic_similarity: evidence.semantic.get(target).map(|&(_, s)| s),
                },
                matched_skills,
                partly_matched,
                missing_essential,
            })
        })
        .collect();
    let order = |a: &SkillMatch, b: &SkillMatch| {
        b.score
            .total_cmp(&a.score)
            .then(b.matched_skills.len().cmp(&a.matched_skills.len()))
            .then_with(|| a.id.cmp(&b.id))
    };
    matches.sort_by(order);
    for (position, m) in matches.iter_mut().enumerate() {
        m.breakdown.coverage_rank = position + 1;
    }
    if !evidence.semantic.is_empty() {
        // CombSUM of min-max normalised scores (Fox & Shaw 1994).
        let top_coverage = matches.first().map_or(0.0, |m| m.breakdown.coverage).max(f64::EPSILON);
        let cosines = evidence.semantic.values().map(|&(_, c)| f64::from(c));
        let (low, high) = cosines.fold((f64::MAX, f64::MIN), |(lo, hi), c| (lo.min(c), hi.max(c)));
        let spread = (high - low).max(f64::EPSILON);
        for m in &mut matches {
            let b = &m.breakdown;
            let meaning = b.semantic_similarity.map_or(0.0, |c| (f64::from(c) - low) / spread);
            m.score = (1.0 - SEMANTIC_WEIGHT) * b.coverage / top_coverage + SEMANTIC_WEIGHT * meaning;
        }
        matches.sort_by(order);
    }
    matches.truncate(limit);
    matches
}

/// At most [`GAP_MATERIALS`] materials linked to `skill` by a covers relation, directly, then
/// one broader/narrower step away (as `materials_for_skills` reaches them by relation).
fn linked_materials(catalog: &Catalog, graph: &RelationGraph, skill: &ConceptId, lang: &Lang) -> Vec<GapMaterial> {
    let reached = std::iter::once(skill).chain(graph.neighbours.get(skill).into_iter().flatten());
    let mut seen = HashSet::new();
    reached
        .flat_map(|concept| graph.covered_by.get(concept).into_iter().flatten())
        .filter(|material| seen.insert(*material))
        .filter_map(|material| linked(catalog, material, lang, None))
        .filter(|material| material.kind == Kind::Material)
        .take(GAP_MATERIALS)
        .map(|material| GapMaterial {
            material,
            via: CoverVia::Relation,
            similarity: None,
        })
        .collect()
}

/// Materials for one missing skill, as `materials_for_skills` finds them: the linked ones
/// ([`linked_materials`]), then the nearest by similarity of the skill's label
/// ([`materials_near`]); at most [`GAP_MATERIALS`].
fn gap_materials(
    searcher: &Searcher,
    catalog: &Catalog,
    graph: &RelationGraph,
    skill: &ConceptId,
    lang: &Lang,
) -> Result<Vec<GapMaterial>> {
    let mut found = linked_materials(catalog, graph, skill, lang);
    let mut seen: HashSet<String> = found.iter().map(|m| m.material.id.clone()).collect();
    if found.len() < GAP_MATERIALS {
        if let Some(vector) = concept_vector(searcher, skill.as_str(), lang.as_str())? {
            for (material, similarity) in materials_near(searcher, &vector) {
                if found.len() == GAP_MATERIALS {
                    break;
                }
                if !seen.insert(material.to_string()) {
                    continue;
                }
                if let Some(material) = linked(catalog, &material, lang, None) {
                    found.push(GapMaterial {
                        material,
                        via: CoverVia::Similarity,
                        similarity: Some(similarity),
                    });
                }
            }
        }
    }
    Ok(found)
}

/// Fills the materials of every missing skill of `matches` (the returned targets only: each
/// skill is looked up once however many targets miss it).
pub fn attach_gap_materials(
    searcher: &Searcher,
    catalog: &Catalog,
    graph: &RelationGraph,
    matches: &mut [SkillMatch],
    lang: &Lang,
    deadline: Deadline,
) -> Result<()> {
    let mut found: HashMap<String, Vec<GapMaterial>> = HashMap::new();
    for gap in matches.iter_mut().flat_map(|m| m.missing_essential.iter_mut()) {
        if let Some(materials) = found.get(&gap.skill.id) {
            gap.materials = materials.clone();
            continue;
        }
        deadline.check("finding materials for the gaps")?;
        let materials = gap_materials(searcher, catalog, graph, &ConceptId::new(gap.skill.id.as_str()), lang)?;
        gap.materials = materials.clone();
        found.insert(gap.skill.id.clone(), materials);
    }
    Ok(())
}

/// Materials whose vectors are at least [`MATERIAL_SIMILARITY`] close to `vector`, each once
/// with its best similarity, nearest first (an exact scan: materials are few). Empty without
/// vectors.
fn materials_near(searcher: &Searcher, vector: &[f32]) -> Vec<(ConceptId, f32)> {
    let Some(store) = searcher
        .index
        .store_of_kind(Kind::Material)
        .filter(|_| searcher.vectors_available())
    else {
        return Vec::new();
    };
    let among = store.entries_of_kind(Kind::Material);
    let mut best: Vec<(ConceptId, f32)> = Vec::new();
    for found in store.exact_among(vector, among.len(), among) {
        if found.similarity < MATERIAL_SIMILARITY {
            break;
        }
        let id = store.concept_of(found.entry).id.as_str();
        // Nearest first: a material seen already has its best similarity.
        if !best.iter().any(|(seen, _)| seen.as_str() == id) {
            best.push((ConceptId::new(id), found.similarity));
        }
    }
    best
}

/// How a material covers one skill.
#[derive(Debug, Clone, Serialize)]
pub struct CoveredSkill {
    /// The skill as the request gave it.
    pub input: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    pub label: String,
    /// How the material was found; for `text`, `id` is empty.
    pub via: CoverVia,
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

/// The stored vector of a concept's best text for matching: its first entry in `lang` (the
/// preferred label comes first), else in English, else its first entry. `None` without vectors
/// or when the materials' store (the general vector space) holds none of it.
fn concept_vector(searcher: &Searcher, id: &str, lang: &str) -> Result<Option<Vec<f32>>> {
    let Some(store) = searcher
        .index
        .store_of_kind(Kind::Material)
        .filter(|_| searcher.vectors_available())
    else {
        return Ok(None);
    };
    let entries = store.entries_of(id);
    let best = entries.iter().min_by_key(|&&e| {
        (
            store.entries.entries[e].lang != lang,
            store.entries.entries[e].lang != "en",
        )
    });
    Ok(best.map(|&e| store.vector(e).to_vec()))
}

/// A resolved skill's vector ([`concept_vector`]), embedded from its label when the store lacks it.
fn skill_vector(searcher: &Searcher, skill: &ResolvedSkill) -> Result<Option<Vec<f32>>> {
    if !searcher.vectors_available() {
        return Ok(None);
    }
    match concept_vector(searcher, &skill.id, &skill.lang)? {
        Some(vector) => Ok(Some(vector)),
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
                if !list.iter().any(|c| c.id == skill.id && c.input == skill.input) {
                    list.push(CoveredSkill {
                        input: skill.input.clone(),
                        id: skill.id.clone(),
                        label: skill.label.clone(),
                        via: CoverVia::Relation,
                        similarity: None,
                    });
                }
            }
        }
        // A free text also searches by itself: when it resolved to a loosely related skill, the
        // text still says what the user wants taught.
        let mut probes: Vec<Vec<f32>> = skill_vector(searcher, skill)?.into_iter().collect();
        if skill.via == ResolvedVia::Search && texts_probed.insert(skill.input.as_str()) {
            probes.extend(searcher.embed_query(&skill.input)?);
        }
        let mut best: BTreeMap<ConceptId, f32> = BTreeMap::new();
        for vector in &probes {
            for (material, similarity) in materials_near(searcher, vector) {
                let entry = best.entry(material).or_insert(similarity);
                *entry = entry.max(similarity);
            }
        }
        for (material, similarity) in best {
            let list = covered.entry(material).or_default();
            if !list.iter().any(|c| c.id == skill.id && c.input == skill.input) {
                list.push(CoveredSkill {
                    input: skill.input.clone(),
                    id: skill.id.clone(),
                    label: skill.label.clone(),
                    via: CoverVia::Similarity,
                    similarity: Some(similarity),
                });
            }
        }
    }
    for text in free_texts {
        deadline.check("finding materials")?;
        let Some(vector) = searcher.embed_query(text)? else {
            break;
        };
        for (id, similarity) in materials_near(searcher, &vector) {
            let list = covered.entry(id).or_default();
            match list.iter_mut().find(|c| c.via == CoverVia::Text && &c.input == text) {
                Some(existing) => {
                    existing.similarity = Some(existing.similarity.unwrap_or(0.0).max(similarity));
                }
                None => list.push(CoveredSkill {
                    input: text.clone(),
                    id: String::new(),
                    label: text.clone(),
                    via: CoverVia::Text,
                    similarity: Some(similarity),
                }),
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

/// A curriculum designer's skills and which materials to find (`POST /materials/for-skills`,
/// `occusearch materials`).
#[derive(Debug, Clone, Copy)]
pub struct MaterialsRequest<'a> {
    /// Skill ids or free texts, any language.
    pub skills: &'a [String],
    /// Only materials at this EQF level (1 to 8).
    pub eqf: Option<u8>,
    /// Language of the labels shown.
    pub lang: &'a Lang,
    pub limit: usize,
    pub deadline: Deadline,
}

/// How the skills resolved, and the ranked materials.
#[derive(Debug, Clone, Serialize)]
pub struct MaterialsOutcome {
    pub resolved: Vec<ResolvedSkill>,
    pub unresolved: Vec<UnresolvedSkill>,
    pub materials: Vec<MaterialMatch>,
}

/// Resolves the skills (skills, concepts and skill groups of every source) and ranks the
/// materials that cover them; a text that resolves to nothing still looks for materials close
/// to itself. The one path of `/materials/for-skills` and `occusearch materials`.
pub fn materials_for_texts(
    searcher: &Searcher,
    catalog: &Catalog,
    graph: &RelationGraph,
    request: MaterialsRequest<'_>,
) -> Result<MaterialsOutcome> {
    if request.eqf.is_some_and(|e| !(1..=8).contains(&e)) {
        return Err(Error::InvalidRequest("eqf must be an EQF level from 1 to 8".into()));
    }
    let kinds = [Kind::Skill, Kind::Concept, Kind::SkillGroup];
    let (resolved, unresolved) = resolve_skills(
        searcher,
        catalog,
        request.skills,
        request.lang,
        &kinds,
        request.deadline,
    )?;
    let free_texts: Vec<String> = unresolved.iter().map(|u| u.input.clone()).collect();
    let query = MaterialsQuery {
        free_texts: &free_texts,
        eqf: request.eqf,
        lang: request.lang,
        limit: request.limit,
        deadline: request.deadline,
    };
    let materials = materials_for_skills(searcher, catalog, graph, &resolved, query)?;
    Ok(MaterialsOutcome {
        resolved,
        unresolved,
        materials,
    })
}

/// Writes how each input resolved, for people (`occusearch match` and `materials`).
fn write_resolution(
    out: &mut dyn std::io::Write,
    resolved: &[ResolvedSkill],
    unresolved: &[UnresolvedSkill],
) -> std::io::Result<()> {
    for skill in resolved {
        let how = match skill.via {
            ResolvedVia::Id => "id".to_string(),
            ResolvedVia::Search => format!("confidence {:.2}", skill.confidence),
        };
        writeln!(
            out,
            "  {:?} -> {} [{}/{}] ({how})  <{}>",
            skill.input, skill.label, skill.lang, skill.source, skill.id
        )?;
    }
    for skill in unresolved {
        let suggestions: Vec<String> = skill
            .suggestions
            .iter()
            .map(|s| match s.similarity {
                Some(similarity) => format!("{} ({similarity:.2})", s.label),
                None => s.label.clone(),
            })
            .collect();
        let hint = if suggestions.is_empty() {
            String::new()
        } else {
            format!("; nearest: {}", suggestions.join(", "))
        };
        writeln!(out, "  {:?} -> unresolved{hint}", skill.input)?;
    }
    Ok(())
}

/// Labels joined with commas, at most `max` of them and a count of the rest.
fn some_labels<'a>(labels: impl ExactSizeIterator<Item = &'a str>, max: usize) -> String {
    let total = labels.len();
    let mut text = labels.take(max).collect::<Vec<_>>().join(", ");
    if total > max {
        text.push_str(&format!(" and {} more", total - max));
    }
    text
}

impl MatchOutcome {
    /// The outcome as text for people: the resolution, then each match with its evidence and
    /// the first steps of its gap.
    pub fn write_text(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        writeln!(out, "skills:")?;
        write_resolution(out, &self.resolved, &self.unresolved)?;
        if self.matches.is_empty() {
            writeln!(out, "\nno occupation or profile lists these skills")?;
            return Ok(());
        }
        writeln!(out, "\nmatches:")?;
        for (rank, m) in self.matches.iter().enumerate() {
            let b = &m.breakdown;
            writeln!(
                out,
                "{:>3}. {:.3}  {} [{}/{}]  <{}>",
                rank + 1,
                m.score,
                m.label,
                m.kind.as_str(),
                m.source,
                m.id
            )?;
            let meaning = b
                .semantic_rank
                .map_or_else(|| "-".to_string(), |rank| format!("#{rank}"));
            writeln!(
                out,
                "       essential {}/{}, optional {}/{}; covers {:.0} % of its skills (weighted), {:.0} % of yours; coverage #{}, meaning {meaning}",
                b.essential_matched,
                b.essential_total,
                b.optional_matched,
                b.optional_total,
                100.0 * b.target_coverage,
                100.0 * b.user_coverage,
                b.coverage_rank
            )?;
            writeln!(
                out,
                "       matched: {}",
                some_labels(m.matched_skills.iter().map(|s| s.label.as_str()), 6)
            )?;
            if !m.partly_matched.is_empty() {
                let near: Vec<String> = m
                    .partly_matched
                    .iter()
                    .take(4)
                    .map(|p| format!("{} ({:.2}, from {:?})", p.skill.label, p.credit, p.input))
                    .collect();
                writeln!(out, "       partly: {}", near.join(", "))?;
            }
            for gap in m.missing_essential.iter().take(3) {
                let materials = if gap.materials.is_empty() {
                    String::new()
                } else {
                    let found: Vec<String> = gap
                        .materials
                        .iter()
                        .map(|m| match m.similarity {
                            Some(similarity) => format!("{} (similar {similarity:.2})", m.material.label),
                            None => format!("{} (linked)", m.material.label),
                        })
                        .collect();
                    format!("; learn it: {}", found.join(", "))
                };
                writeln!(
                    out,
                    "       to learn: {} (+{:.3}){materials}",
                    gap.skill.label, gap.gain
                )?;
            }
            if m.missing_essential.len() > 3 {
                writeln!(
                    out,
                    "       ... {} more missing essential skills (--json lists them)",
                    m.missing_essential.len() - 3
                )?;
            }
        }
        Ok(())
    }
}

impl MaterialsOutcome {
    /// The outcome as text for people: the resolution, then each material with what it covers.
    pub fn write_text(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        writeln!(out, "skills:")?;
        write_resolution(out, &self.resolved, &self.unresolved)?;
        if self.materials.is_empty() {
            writeln!(out, "\nno material covers these skills")?;
            return Ok(());
        }
        writeln!(out, "\nmaterials:")?;
        for (rank, m) in self.materials.iter().enumerate() {
            let eqf = if m.eqf_levels.is_empty() {
                String::new()
            } else {
                let levels: Vec<String> = m.eqf_levels.iter().map(u8::to_string).collect();
                format!(" EQF {}", levels.join(","))
            };
            writeln!(
                out,
                "{:>3}. {:>3.0} %  {} [{}{eqf}]  <{}>",
                rank + 1,
                100.0 * m.coverage,
                m.label,
                m.source,
                m.id
            )?;
            for cover in &m.covers {
                let how = match cover.similarity {
                    Some(similarity) => format!("{} {similarity:.2}", cover.via.as_str()),
                    None => cover.via.as_str().to_string(),
                };
                writeln!(out, "       covers {:?}: {} ({how})", cover.input, cover.label)?;
            }
            if let Some(url) = &m.url {
                writeln!(out, "       {url}")?;
            }
        }
        Ok(())
    }
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
                via: ResolvedVia::Id,
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
    fn a_skill_near_a_given_one_counts_in_part_and_says_from_which_input() {
        let catalog = catalog();
        let graph = RelationGraph::new(&catalog);
        let english = Lang::english();
        let rank = |evidence: &MatchEvidence| {
            match_skills(
                &catalog,
                &graph,
                &given(&["s1"]),
                evidence,
                &[Kind::Occupation],
                &english,
                30,
            )
            .into_iter()
            .find(|m| m.id == "specialist")
            .unwrap()
        };
        let exact = rank(&MatchEvidence::default());
        let mut evidence = MatchEvidence::default();
        // s2 at cosine 0.96 to s1: credit (0.96 − 0.92) / 0.08 = 0.5; s3 below the floor: none.
        evidence.related.insert("s1", ConceptId::new("s2"), 0.96);
        evidence.related.insert("s1", ConceptId::new("s3"), 0.91);
        let near = rank(&evidence);
        assert!(near.breakdown.target_coverage > exact.breakdown.target_coverage);
        assert_eq!(near.breakdown.partly_matched, 1);
        let partial = &near.partly_matched[0];
        assert_eq!((partial.skill.id.as_str(), partial.input.as_str()), ("s2", "s1"));
        assert!((partial.credit - 0.5).abs() < 1e-6, "{partial:?}");
        // s2 is still missing (not given), and having it adds only the half not yet credited.
        let gain_of = |m: &SkillMatch, id: &str| m.missing_essential.iter().find(|g| g.skill.id == id).unwrap().gain;
        assert!(gain_of(&near, "s2") < gain_of(&exact, "s2"));
        // Without meaning (no vectors) the score is the coverage itself.
        assert_eq!(near.score, near.breakdown.coverage);
        assert!(near.breakdown.semantic_rank.is_none());
    }

    #[test]
    fn meaning_reorders_targets_by_a_min_max_blend() {
        let catalog = catalog();
        let graph = RelationGraph::new(&catalog);
        let english = Lang::english();
        let mut evidence = MatchEvidence::default();
        // `small` (one generic skill) is nearest in meaning, `specialist` farthest.
        evidence.semantic.insert(ConceptId::new("small"), (1, 0.95));
        evidence.semantic.insert(ConceptId::new("other0"), (2, 0.90));
        evidence.semantic.insert(ConceptId::new("specialist"), (3, 0.85));
        let ranked = match_skills(
            &catalog,
            &graph,
            &given(&["generic", "rare"]),
            &evidence,
            &[Kind::Occupation],
            &english,
            30,
        );
        let top = &ranked[0];
        assert_eq!(top.id, "specialist", "coverage still leads: {ranked:?}");
        assert_eq!(top.breakdown.coverage_rank, 1);
        // score = 0.75 · coverage / max coverage + 0.25 · (cos − min) / (max − min).
        assert!((top.score - (1.0 - SEMANTIC_WEIGHT)).abs() < 1e-9, "{top:?}");
        let small = ranked.iter().find(|m| m.id == "small").unwrap();
        let expected = (1.0 - SEMANTIC_WEIGHT) * small.breakdown.coverage / top.breakdown.coverage + SEMANTIC_WEIGHT;
        assert!((small.score - expected).abs() < 1e-9, "{small:?}");
        assert_eq!(small.breakdown.semantic_rank, Some(1));
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
            &MatchEvidence::default(),
            &[Kind::Occupation],
            &english,
            5,
        );
        assert_eq!(ranked[0].id, "specialist", "{ranked:?}");
        // Plain coverage would put `small` first: 1 of its 1 skill against 2 of 5.
        let small = ranked.iter().find(|m| m.id == "small").unwrap();
        assert_eq!(small.breakdown.target_coverage, 1.0);
        assert!(small.breakdown.user_coverage < 0.5, "{small:?}");
        // The gap: the rarer missing skills first (they raise the score more), with materials
        // (found for the returned matches only, by `attach_gap_materials`).
        let gap: Vec<(&str, bool)> = ranked[0]
            .missing_essential
            .iter()
            .map(|g| {
                let id = ConceptId::new(g.skill.id.as_str());
                (
                    g.skill.id.as_str(),
                    !linked_materials(&catalog, &graph, &id, &english).is_empty(),
                )
            })
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
        // Words under three letters need not be matched; longer ones all must.
        let bread = hit("cuire du pain", &["cuire", "pain"], Some(0.88));
        assert_eq!(confidence(&bread, &words("cuire le pain")), Some(0.88));
        assert_eq!(confidence(&bread, &words("cuire le pain blanc")), None);
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
