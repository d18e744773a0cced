//! `show`: one concept in a requested language, with its relations resolved to labelled
//! neighbours (essential and optional skills, broader and narrower concepts, materials).

use serde::Serialize;

use crate::error::{Error, Result};
use crate::ingest::Catalog;
use crate::types::{Attributes, Concept, ConceptId, Kind, Lang, RelationType};

/// A related concept, labelled in the requested language where it has one.
#[derive(Debug, Clone, Serialize)]
pub struct LinkedConcept {
    pub id: String,
    pub kind: Kind,
    pub label: String,
    pub lang: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<u8>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConceptView {
    pub id: String,
    pub kind: Kind,
    pub source: String,
    pub requested_lang: String,
    /// The language the labels are in: the requested one, else English, else any.
    pub lang: String,
    pub label: String,
    /// The preferred label in every language the concept has one in.
    pub labels_by_lang: std::collections::BTreeMap<String, String>,
    pub alternative_labels: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub attributes: Attributes,
    pub essential_skills: Vec<LinkedConcept>,
    pub optional_skills: Vec<LinkedConcept>,
    pub competences: Vec<LinkedConcept>,
    pub broader: Vec<LinkedConcept>,
    pub narrower: Vec<LinkedConcept>,
    pub covers: Vec<LinkedConcept>,
    pub covered_by: Vec<LinkedConcept>,
    pub related: Vec<LinkedConcept>,
}

/// Finds a concept by full id, or by the bare UUID of an ESCO URI.
pub fn find<'c>(catalog: &'c Catalog, id: &str) -> Option<&'c Concept> {
    let id = id.trim();
    catalog.concepts.get(&ConceptId::new(id)).or_else(|| {
        let suffix = format!("/{id}");
        catalog.concepts.values().find(|c| c.id.as_str().ends_with(&suffix))
    })
}

/// A related concept as shown: its label in `lang`, else English.
pub(crate) fn linked(catalog: &Catalog, id: &ConceptId, lang: &Lang, level: Option<u8>) -> Option<LinkedConcept> {
    let concept = catalog.concepts.get(id)?;
    let (used, label) = concept.display_label(lang)?;
    Some(LinkedConcept {
        id: id.to_string(),
        kind: concept.kind,
        label: label.to_string(),
        lang: used.to_string(),
        level,
    })
}

impl ConceptView {
    /// The concept as `occusearch show` prints it: label, kind and id (with the language fallen
    /// back to), alternative labels, description, then each list of related concepts.
    pub fn write_text(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        let fallback = if self.lang != self.requested_lang {
            format!(" (no {} labels; shown in {})", self.requested_lang, self.lang)
        } else {
            String::new()
        };
        writeln!(out, "{} [{}] {}{}", self.label, self.kind, self.id, fallback)?;
        if !self.alternative_labels.is_empty() {
            writeln!(out, "  also: {}", self.alternative_labels.join("; "))?;
        }
        if let Some(description) = &self.description {
            writeln!(out, "\n{description}")?;
        }
        for (title, list) in [
            ("essential skills", &self.essential_skills),
            ("optional skills", &self.optional_skills),
            ("competences", &self.competences),
            ("broader", &self.broader),
            ("narrower", &self.narrower),
            ("covers", &self.covers),
            ("covered by", &self.covered_by),
            ("related", &self.related),
        ] {
            if list.is_empty() {
                continue;
            }
            writeln!(out, "\n{title} ({}):", list.len())?;
            for item in list {
                let level = item.level.map(|l| format!(" (level {l})")).unwrap_or_default();
                let lang = if item.lang != self.requested_lang {
                    format!(" [{}]", item.lang)
                } else {
                    String::new()
                };
                writeln!(out, "  - {}{lang}{level}  <{}>", item.label, item.id)?;
            }
        }
        Ok(())
    }
}

pub fn show(catalog: &Catalog, id: &str, lang: &Lang) -> Result<ConceptView> {
    let concept = find(catalog, id).ok_or_else(|| Error::NotFound(format!("no concept with id {id:?}")))?;
    let (used, labels) = concept
        .labels_in(lang)
        .ok_or_else(|| Error::Internal(format!("concept {} has no labels", concept.id)))?;
    let mut view = ConceptView {
        id: concept.id.to_string(),
        kind: concept.kind,
        source: concept.source.clone(),
        requested_lang: lang.to_string(),
        lang: used.to_string(),
        label: concept
            .display_label(lang)
            .map(|(_, l)| l.to_string())
            .unwrap_or_default(),
        labels_by_lang: concept
            .labels
            .iter()
            .filter_map(|(lang, labels)| Some((lang.to_string(), labels.preferred.clone()?)))
            .collect(),
        alternative_labels: labels.alternative.clone(),
        description: labels.description.clone(),
        attributes: concept.attributes.clone(),
        essential_skills: Vec::new(),
        optional_skills: Vec::new(),
        competences: Vec::new(),
        broader: Vec::new(),
        narrower: Vec::new(),
        covers: Vec::new(),
        covered_by: Vec::new(),
        related: Vec::new(),
    };
    for relation in &catalog.relations {
        let outgoing = relation.from == concept.id;
        let incoming = relation.to == concept.id;
        if !outgoing && !incoming {
            continue;
        }
        let other = if outgoing { &relation.to } else { &relation.from };
        let Some(link) = linked(catalog, other, lang, relation.level) else {
            continue;
        };
        let list = match (relation.relation, outgoing) {
            (RelationType::EssentialSkill, true) | (RelationType::EssentialRelatedSkill, true) => {
                &mut view.essential_skills
            }
            (RelationType::OptionalSkill, true) | (RelationType::OptionalRelatedSkill, true) => {
                &mut view.optional_skills
            }
            (RelationType::Competence, true) => &mut view.competences,
            (RelationType::Broader, true) => &mut view.broader,
            (RelationType::Broader, false) => &mut view.narrower,
            (RelationType::Covers, true) => &mut view.covers,
            (RelationType::Covers, false) => &mut view.covered_by,
            _ => &mut view.related,
        };
        list.push(link);
    }
    for list in [
        &mut view.essential_skills,
        &mut view.optional_skills,
        &mut view.narrower,
        &mut view.related,
    ] {
        list.sort_by_key(|item| item.label.to_lowercase());
    }
    Ok(view)
}
