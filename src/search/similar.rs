//! Near-duplicates: concepts similar to a text or to another concept, and clusters of
//! near-duplicate profiles, materials and tools across sources, with the evidence (embedding
//! similarity, shared skills, label word overlap).
//!
//! Concept-to-concept similarity is the best cosine over pairs of their embedded texts (for
//! `duplicates`, labels only). Label overlap is the Jaccard index of folded label words,
//! `|A ∩ B| / |A ∪ B|`; shared skills are the skills (or covered concepts) both list.
//! Clusters are the connected components of the pairs at or above the threshold (union–find).

use std::collections::{BTreeMap, HashMap, HashSet};

use rayon::prelude::*;
use serde::Serialize;

use super::matching::RelationGraph;
use super::show::find;
use super::Searcher;
use crate::analyze::{fold, words};
use crate::error::{Error, Result};
use crate::index::vectors::{EmbeddedField, VectorConcept, VectorEntry, VectorStore};
use crate::ingest::Catalog;
use crate::types::{ConceptId, Deadline, Kind, Lang};

/// The similarity at which `duplicates` links two concepts unless asked otherwise (titles of
/// one role or course across sources sit at 0.93 and above with multilingual-e5).
pub const DEFAULT_DUPLICATE_SIMILARITY: f32 = 0.93;

/// Most concepts `duplicates` compares in one request (its cost grows with the kinds asked).
pub const MAX_DUPLICATE_CANDIDATES: usize = 5000;

#[derive(Debug, Clone, Serialize)]
pub struct Similar {
    pub id: String,
    pub kind: Kind,
    pub source: String,
    pub label: String,
    pub lang: String,
    /// Best cosine similarity between the query (text or concept) and this concept's texts.
    pub similarity: f32,
    /// The text of this concept that matched best.
    pub matched_text: String,
    /// Jaccard overlap of label words with the query concept (or text).
    pub label_overlap: f64,
    /// Skills or covered concepts both list (query concept only).
    pub shared_skills: usize,
}

fn label_words(text: &str) -> HashSet<String> {
    words(text).map(fold).filter(|w| w.chars().count() > 2).collect()
}

fn jaccard(a: &HashSet<String>, b: &HashSet<String>) -> f64 {
    let union = a.union(b).count();
    if union == 0 {
        0.0
    } else {
        a.intersection(b).count() as f64 / union as f64
    }
}

fn english_words(concept: &VectorConcept) -> HashSet<String> {
    concept
        .label_in(Some("en"))
        .map(|(_, l)| label_words(l))
        .unwrap_or_default()
}

fn store_of(searcher: &Searcher) -> Result<&VectorStore> {
    match (&searcher.index.vectors, searcher.vector_unavailable()) {
        (Some(store), None) => Ok(store),
        (_, reason) => Err(Error::Unavailable(format!(
            "similarity needs vectors: {}",
            reason.unwrap_or("the index has none")
        ))),
    }
}

/// What `similar` compares against.
#[derive(Debug, Clone, Copy)]
pub enum SimilarTo<'a> {
    Text(&'a str),
    Concept(&'a str),
}

impl<'a> SimilarTo<'a> {
    /// Exactly one of a text or an id, validated: the request as the API and the CLI take it.
    pub fn from_parts(text: Option<&'a str>, id: Option<&'a str>) -> Result<SimilarTo<'a>> {
        let to = match (text, id) {
            (Some(text), None) => SimilarTo::Text(text),
            (None, Some(id)) => SimilarTo::Concept(id),
            // Neither or both: the same message as an empty one.
            _ => SimilarTo::Text(""),
        };
        to.validate()?;
        Ok(to)
    }

    /// A text must be non-empty and at most [`super::MAX_QUERY_CHARS`] characters; an id non-empty.
    pub fn validate(&self) -> Result<()> {
        let fits = match self {
            SimilarTo::Text(text) => !text.trim().is_empty() && text.chars().count() <= super::MAX_QUERY_CHARS,
            SimilarTo::Concept(id) => !id.trim().is_empty(),
        };
        if fits {
            Ok(())
        } else {
            Err(Error::InvalidRequest(format!(
                "give either a non-empty text (at most {} characters) or an id",
                super::MAX_QUERY_CHARS
            )))
        }
    }
}

/// What `similar` looks for.
#[derive(Debug, Clone, Copy)]
pub struct SimilarRequest<'a> {
    pub to: SimilarTo<'a>,
    /// Kinds of the answers; all when empty.
    pub kinds: &'a [Kind],
    /// Language of the labels shown.
    pub lang: &'a Lang,
    pub limit: usize,
    pub deadline: Deadline,
}

/// Concepts of `request.kinds` nearest to a text or a concept, best first.
pub fn similar(
    searcher: &Searcher,
    catalog: &Catalog,
    graph: &RelationGraph,
    request: SimilarRequest<'_>,
) -> Result<Vec<Similar>> {
    let SimilarRequest {
        to,
        kinds,
        lang,
        limit,
        deadline,
    } = request;
    to.validate()?;
    let store = store_of(searcher)?;
    let (queries, own_id, own_words): (Vec<Vec<f32>>, Option<String>, HashSet<String>) = match to {
        SimilarTo::Text(text) => {
            let vector = searcher
                .embed_query(text)?
                .ok_or_else(|| Error::Unavailable("the embedding model is not loaded".into()))?;
            (vec![vector], None, label_words(text))
        }
        SimilarTo::Concept(id) => {
            let concept = find(catalog, id).ok_or_else(|| Error::NotFound(format!("no concept with id {id:?}")))?;
            let vectors: Vec<Vec<f32>> = store
                .entries_of(concept.id.as_str())
                .iter()
                .map(|&e| store.vector(e).to_vec())
                .collect();
            if vectors.is_empty() {
                return Err(Error::NotFound(format!(
                    "{} has no embedded text in this index (built with a smaller --embed scope)",
                    concept.id
                )));
            }
            let words = concept
                .display_label(&Lang::english())
                .map(|(_, l)| label_words(l))
                .unwrap_or_default();
            (vectors, Some(concept.id.to_string()), words)
        }
    };
    // Kinds are answered from the store's per-kind lists; the filter only drops the concept itself.
    let not_itself = |_: &VectorEntry, concept: &VectorConcept| own_id.as_deref() != Some(concept.id.as_str());
    let mut best: HashMap<usize, (f32, usize)> = HashMap::new();
    for query in &queries {
        deadline.check("finding similar concepts")?;
        for found in store.search_kinds(query, (limit * 8).max(64), kinds, Some(&not_itself))? {
            let concept = store.entries.entries[found.entry].concept as usize;
            let slot = best.entry(concept).or_insert((found.similarity, found.entry));
            if found.similarity > slot.0 {
                *slot = (found.similarity, found.entry);
            }
        }
    }
    let own_skills = own_id.as_ref().map(|id| graph.skill_set(&ConceptId::new(id.as_str())));
    let mut similar: Vec<Similar> = best
        .into_iter()
        .map(|(position, (similarity, entry))| {
            let concept = &store.entries.concepts[position];
            let (used, label) = concept.label_in(Some(lang.as_str())).unwrap_or(("", ""));
            let shared_skills = own_skills.as_ref().map_or(0, |own| {
                let theirs = graph.skill_set(&ConceptId::new(concept.id.as_str()));
                own.intersection(&theirs).count()
            });
            Similar {
                id: concept.id.clone(),
                kind: concept.kind,
                source: concept.source.clone(),
                label: label.to_string(),
                lang: used.to_string(),
                similarity,
                matched_text: store.entries.entries[entry].text.clone(),
                label_overlap: jaccard(&own_words, &english_words(concept)),
                shared_skills,
            }
        })
        .collect();
    similar.sort_by(|a, b| b.similarity.total_cmp(&a.similarity).then_with(|| a.id.cmp(&b.id)));
    similar.truncate(limit);
    Ok(similar)
}

/// Two near-duplicates and why.
#[derive(Debug, Clone, Serialize)]
pub struct DuplicatePair {
    pub a: String,
    pub b: String,
    pub similarity: f32,
    pub label_overlap: f64,
    pub shared_skills: usize,
    pub cross_source: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClusterMember {
    pub id: String,
    pub kind: Kind,
    pub source: String,
    pub label: String,
}

/// A group of concepts linked by near-duplicate pairs.
#[derive(Debug, Clone, Serialize)]
pub struct DuplicateCluster {
    pub members: Vec<ClusterMember>,
    pub sources: Vec<String>,
    pub pairs: Vec<DuplicatePair>,
    /// Highest pair similarity in the cluster.
    pub max_similarity: f32,
}

fn root(parents: &mut [usize], mut node: usize) -> usize {
    while parents[node] != node {
        parents[node] = parents[parents[node]];
        node = parents[node];
    }
    node
}

/// Clusters of concepts of `kinds` whose best text pair reaches `min_similarity`; with
/// `cross_source`, only pairs from different sources link.
pub fn duplicates(
    searcher: &Searcher,
    graph: &RelationGraph,
    kinds: &[Kind],
    min_similarity: f32,
    cross_source: bool,
    deadline: Deadline,
) -> Result<Vec<DuplicateCluster>> {
    let store = store_of(searcher)?;
    let candidates: Vec<usize> = (0..store.entries.concepts.len())
        .filter(|&c| kinds.contains(&store.entries.concepts[c].kind))
        .collect();
    if candidates.len() > MAX_DUPLICATE_CANDIDATES {
        return Err(Error::InvalidRequest(format!(
            "{} concepts of these kinds; duplicates compares at most {MAX_DUPLICATE_CANDIDATES}: ask for fewer kinds",
            candidates.len()
        )));
    }
    // Labels only: descriptions of a series (the same course template per topic) are close to
    // each other whatever the topic, which would link every course of a series. One language
    // per concept (English, where it has it: the sectoral sources are English) and alternative
    // labels only for profiles and materials, whose titles vary: the index embeds every label in
    // every language, and comparing all of them would cost ~20 times more for the same pairs.
    let is_label = |entry: &VectorEntry, concept: &VectorConcept| {
        let has_english = concept.labels.iter().any(|(lang, _)| lang == "en");
        let in_language = entry.lang == "en" || !has_english;
        let field = match entry.field {
            EmbeddedField::Preferred => true,
            EmbeddedField::Alternative => matches!(concept.kind, Kind::Profile | Kind::Material),
            EmbeddedField::Description => false,
        };
        in_language && field
    };
    // The compared labels, chosen once: an exact scan over them (a few thousand) is cheaper
    // than a filtered search per label, which would test the filter on every entry each time.
    let wanted: Vec<usize> = (0..store.len())
        .filter(|&e| {
            let entry = &store.entries.entries[e];
            let concept = &store.entries.concepts[entry.concept as usize];
            kinds.contains(&concept.kind) && is_label(entry, concept)
        })
        .collect();
    let mut entries_of: HashMap<usize, Vec<usize>> = HashMap::new();
    for entry in (0..store.len()).filter(|&e| {
        let entry = &store.entries.entries[e];
        is_label(entry, &store.entries.concepts[entry.concept as usize])
    }) {
        entries_of
            .entry(store.entries.entries[entry].concept as usize)
            .or_default()
            .push(entry);
    }
    // Each label's nearest labels on rayon's threads (the request holds a blocking-pool thread).
    // The deadline is checked per concept: a request that timed out stops within one concept's
    // scans (about a millisecond), and rayon's collect into a Result stops the other threads too.
    let pairs: Vec<Vec<((usize, usize), f32)>> = candidates
        .par_iter()
        .map(|&concept| {
            deadline.check("finding duplicates")?;
            let entries = entries_of.get(&concept).map(Vec::as_slice).unwrap_or_default();
            Ok(entries
                .iter()
                .flat_map(|&entry| {
                    store
                        .exact_among(store.vector(entry), 16, &wanted)
                        .into_iter()
                        .filter_map(move |found| {
                            let other = store.entries.entries[found.entry].concept as usize;
                            (other != concept && found.similarity >= min_similarity)
                                .then(|| ((concept.min(other), concept.max(other)), found.similarity))
                        })
                })
                .collect())
        })
        .collect::<Result<_>>()?;
    let mut best: BTreeMap<(usize, usize), f32> = BTreeMap::new();
    for (key, similarity) in pairs.into_iter().flatten() {
        let slot = best.entry(key).or_insert(similarity);
        *slot = slot.max(similarity);
    }
    let concepts = &store.entries.concepts;
    let mut parents: Vec<usize> = (0..concepts.len()).collect();
    let mut pairs: Vec<(usize, DuplicatePair)> = Vec::new();
    for ((a, b), similarity) in best {
        let (left, right) = (&concepts[a], &concepts[b]);
        let different_sources = left.source != right.source;
        if cross_source && !different_sources {
            continue;
        }
        let shared_skills = graph
            .skill_set(&ConceptId::new(left.id.as_str()))
            .intersection(&graph.skill_set(&ConceptId::new(right.id.as_str())))
            .count();
        let (root_a, root_b) = (root(&mut parents, a), root(&mut parents, b));
        parents[root_a] = root_b;
        pairs.push((
            a,
            DuplicatePair {
                a: left.id.clone(),
                b: right.id.clone(),
                similarity,
                label_overlap: jaccard(&english_words(left), &english_words(right)),
                shared_skills,
                cross_source: different_sources,
            },
        ));
    }
    let mut clusters: BTreeMap<usize, DuplicateCluster> = BTreeMap::new();
    let mut members: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (a, pair) in pairs {
        let cluster_root = root(&mut parents, a);
        let cluster = clusters.entry(cluster_root).or_insert_with(|| DuplicateCluster {
            members: Vec::new(),
            sources: Vec::new(),
            pairs: Vec::new(),
            max_similarity: 0.0,
        });
        cluster.max_similarity = cluster.max_similarity.max(pair.similarity);
        cluster.pairs.push(pair);
    }
    for concept in 0..concepts.len() {
        let cluster_root = root(&mut parents, concept);
        if clusters.contains_key(&cluster_root) {
            members.entry(cluster_root).or_default().push(concept);
        }
    }
    let mut result: Vec<DuplicateCluster> = clusters
        .into_iter()
        .map(|(cluster_root, mut cluster)| {
            for &member in members.get(&cluster_root).into_iter().flatten() {
                let concept = &concepts[member];
                cluster.members.push(ClusterMember {
                    id: concept.id.clone(),
                    kind: concept.kind,
                    source: concept.source.clone(),
                    label: concept
                        .label_in(Some("en"))
                        .map(|(_, l)| l.to_string())
                        .unwrap_or_default(),
                });
                if !cluster.sources.contains(&concept.source) {
                    cluster.sources.push(concept.source.clone());
                }
            }
            cluster.sources.sort();
            cluster
        })
        .collect();
    result.sort_by(|a, b| b.max_similarity.total_cmp(&a.max_similarity));
    Ok(result)
}

/// Similar concepts as text for people (`occusearch similar`), with their evidence.
pub fn write_similar(similar: &[Similar], out: &mut dyn std::io::Write) -> std::io::Result<()> {
    if similar.is_empty() {
        return writeln!(out, "nothing similar");
    }
    for (rank, s) in similar.iter().enumerate() {
        writeln!(
            out,
            "{:>3}. {:.3}  {} [{}/{}]  <{}>",
            rank + 1,
            s.similarity,
            s.label,
            s.kind.as_str(),
            s.source,
            s.id
        )?;
        let mut evidence = format!("       closest text: {:?}", s.matched_text);
        if s.label_overlap > 0.0 {
            evidence.push_str(&format!("; label words shared {:.0} %", 100.0 * s.label_overlap));
        }
        if s.shared_skills > 0 {
            evidence.push_str(&format!("; {} skills in common", s.shared_skills));
        }
        writeln!(out, "{evidence}")?;
    }
    Ok(())
}

/// Duplicate clusters as text for people (`occusearch duplicates`): members, then the pairs
/// that link them with their evidence.
pub fn write_clusters(clusters: &[DuplicateCluster], out: &mut dyn std::io::Write) -> std::io::Result<()> {
    if clusters.is_empty() {
        return writeln!(out, "no near-duplicates at this threshold");
    }
    let label_of = |cluster: &DuplicateCluster, id: &str| {
        cluster
            .members
            .iter()
            .find(|m| m.id == id)
            .map_or_else(|| id.to_string(), |m| m.label.clone())
    };
    for (number, cluster) in clusters.iter().enumerate() {
        writeln!(
            out,
            "cluster {} ({} members, sources {}, best {:.3}):",
            number + 1,
            cluster.members.len(),
            cluster.sources.join(", "),
            cluster.max_similarity
        )?;
        for member in &cluster.members {
            writeln!(
                out,
                "  - {} [{}/{}]  <{}>",
                member.label,
                member.kind.as_str(),
                member.source,
                member.id
            )?;
        }
        for pair in &cluster.pairs {
            writeln!(
                out,
                "    {:.3}  {} ~ {}  (label words shared {:.0} %, {} skills in common)",
                pair.similarity,
                label_of(cluster, &pair.a),
                label_of(cluster, &pair.b),
                100.0 * pair.label_overlap,
                pair.shared_skills
            )?;
        }
    }
    Ok(())
}
