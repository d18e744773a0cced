//! Domain types shared by every pipeline stage: ids, languages, labels, concepts and their relations.
//!
//! Nothing here knows about tantivy, hnsw_rs or HTTP. Every record, whatever its source, becomes a
//! [`Concept`] keyed by its [`ConceptId`] (the ESCO URI, or a source-qualified id such as
//! `ecsf:ciso`); that id is the only join key between the catalogue, the text index and (later)
//! the vector index.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Stable identifier of a concept: an ESCO URI or a `source:local-id` string.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConceptId(pub String);

impl ConceptId {
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last path segment of an URI id (the ESCO UUID), or the whole id otherwise.
    pub fn short(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// Whether this is an ESCO ISCO-08 group's URI (`http://data.europa.eu/esco/isco/C…`), for
    /// evaluation files that give URIs without a concept type.
    pub fn is_isco_group(&self) -> bool {
        self.0.contains("/esco/isco/")
    }
}

impl fmt::Display for ConceptId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A language code: ISO 639-1 (two lowercase letters), as ESCO file names and the label table use.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Lang(String);

impl Lang {
    /// Parses `en`, `EN`, `de`, ...; rejects anything that is not 2–3 ASCII letters.
    pub fn parse(code: &str) -> Option<Lang> {
        let code = code.trim();
        let valid = (2..=3).contains(&code.len()) && code.chars().all(|c| c.is_ascii_alphabetic());
        valid.then(|| Lang(code.to_ascii_lowercase()))
    }

    pub fn english() -> Lang {
        Lang("en".into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Lang {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Lang::parse(&value).ok_or_else(|| format!("not a language code: {value:?}"))
    }
}

impl From<Lang> for String {
    fn from(lang: Lang) -> String {
        lang.0
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a concept is. The CLI and the index filter on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// An ESCO occupation.
    Occupation,
    /// A skill, competence or knowledge item (ESCO, ECSF key skills/knowledge, EO4GEO, DigComp).
    Skill,
    /// An ISCO-08 group (ESCO occupation pillar).
    IscoGroup,
    /// An ESCO skill group or a framework's competence area.
    SkillGroup,
    /// A sectoral role profile (e.g. an ENISA ECSF profile).
    Profile,
    /// A body-of-knowledge concept (e.g. EO4GEO BoK).
    Concept,
    /// A training material or curriculum unit.
    Material,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Occupation,
        Kind::Skill,
        Kind::IscoGroup,
        Kind::SkillGroup,
        Kind::Profile,
        Kind::Concept,
        Kind::Material,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Occupation => "occupation",
            Kind::Skill => "skill",
            Kind::IscoGroup => "isco-group",
            Kind::SkillGroup => "skill-group",
            Kind::Profile => "profile",
            Kind::Concept => "concept",
            Kind::Material => "material",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == text.trim())
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which model embeds a concept's texts. The ESCO-adapted model ranks job titles better than the
/// base model (product benchmark, MELO) but loses on what people type as skills and on
/// cross-lingual material search, so an index may embed each side with its best model: job
/// titles (occupations, ISCO groups) in one vector space, everything else in the other. Vectors
/// of two spaces are never compared with each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VectorSpace {
    /// Skills, profiles, materials, body-of-knowledge concepts, skill groups; and every kind in an
    /// index embedded by one model.
    General,
    /// Occupations and ISCO groups, in an index that embeds them with a model of their own.
    Titles,
}

impl VectorSpace {
    /// The space of `kind` in an index with a title model.
    pub fn of(kind: Kind) -> VectorSpace {
        match kind {
            Kind::Occupation | Kind::IscoGroup => VectorSpace::Titles,
            Kind::Skill | Kind::SkillGroup | Kind::Profile | Kind::Concept | Kind::Material => VectorSpace::General,
        }
    }
}

/// The role a label plays. Hidden labels are search-only (often outdated or offensive forms): they
/// are indexed but never displayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LabelType {
    Preferred,
    Alternative,
    Hidden,
}

/// The labels of a concept in one language.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LanguageLabels {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alternative: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hidden: Vec<String>,
    /// Definition, description, scope note or summary: the long text of the concept in this language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Further searchable passages: tasks, learning outcomes, mission statements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passages: Vec<String>,
    /// Release of the source these labels came from (e.g. ESCO `1.1.1`); newer releases replace older.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl LanguageLabels {
    /// Every label with its type, preferred first; hidden labels included (they are searchable).
    pub fn all_labels(&self) -> impl Iterator<Item = (LabelType, &str)> {
        self.preferred
            .iter()
            .map(|l| (LabelType::Preferred, l.as_str()))
            .chain(self.alternative.iter().map(|l| (LabelType::Alternative, l.as_str())))
            .chain(self.hidden.iter().map(|l| (LabelType::Hidden, l.as_str())))
    }

    pub fn label_count(&self) -> usize {
        usize::from(self.preferred.is_some()) + self.alternative.len() + self.hidden.len()
    }

    /// Removes blanks, duplicates and alternatives that repeat the preferred label (an ESCO quirk).
    pub fn normalise(&mut self) {
        fn clean(label: &str) -> String {
            label.split_whitespace().collect::<Vec<_>>().join(" ")
        }
        self.preferred = self.preferred.as_deref().map(clean).filter(|l| !l.is_empty());
        let mut seen: std::collections::HashSet<String> = self.preferred.iter().cloned().collect();
        for list in [&mut self.alternative, &mut self.hidden] {
            let taken = std::mem::take(list);
            for label in taken {
                let label = clean(&label);
                if !label.is_empty() && seen.insert(label.clone()) {
                    list.push(label);
                }
            }
        }
        self.description = self
            .description
            .take()
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty());
        self.passages.retain(|p| !p.trim().is_empty());
    }
}

/// How a relation links two concepts. Direction is always `from → to` as named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RelationType {
    /// Occupation or profile → skill it needs (essential).
    EssentialSkill,
    /// Occupation or profile → skill that helps (optional).
    OptionalSkill,
    /// Skill → related skill, essential.
    EssentialRelatedSkill,
    /// Skill → related skill, optional.
    OptionalRelatedSkill,
    /// Narrower concept → its broader concept (occupation → ISCO group, skill → skill group, ...).
    Broader,
    /// Material or skill → a concept or skill it covers or demonstrates.
    Covers,
    /// Profile → a framework competence it requires (e.g. e-CF `A.7.`), with a proficiency level.
    Competence,
    /// Any other link between related concepts (BoK `similarTo`, prerequisites).
    Related,
}

impl RelationType {
    pub fn as_str(self) -> &'static str {
        match self {
            RelationType::EssentialSkill => "essential-skill",
            RelationType::OptionalSkill => "optional-skill",
            RelationType::EssentialRelatedSkill => "essential-related-skill",
            RelationType::OptionalRelatedSkill => "optional-related-skill",
            RelationType::Broader => "broader",
            RelationType::Covers => "covers",
            RelationType::Competence => "competence",
            RelationType::Related => "related",
        }
    }
}

/// A directed, typed link between two concepts, by id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Relation {
    pub from: ConceptId,
    pub relation: RelationType,
    pub to: ConceptId,
    /// Proficiency level for competence links (e-CF 1–5), when the source gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<u8>,
}

/// ESCO skill type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkillType {
    SkillCompetence,
    Knowledge,
}

impl SkillType {
    /// Parses ESCO's values. ESCO 1.0.3 has a few `skill/competence knowledge` cells (both):
    /// the first value counts.
    pub fn parse(text: &str) -> Option<SkillType> {
        let first = text.split_whitespace().next()?;
        match first {
            "skill/competence" | "skill" | "competence" => Some(SkillType::SkillCompetence),
            "knowledge" => Some(SkillType::Knowledge),
            _ => None,
        }
    }
}

/// ESCO reuse level of a skill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReuseLevel {
    Transversal,
    CrossSector,
    SectorSpecific,
    OccupationSpecific,
}

impl ReuseLevel {
    pub fn parse(text: &str) -> Option<ReuseLevel> {
        match text.trim() {
            "transversal" => Some(ReuseLevel::Transversal),
            "cross-sector" | "cross-sectoral" => Some(ReuseLevel::CrossSector),
            "sector-specific" => Some(ReuseLevel::SectorSpecific),
            "occupation-specific" => Some(ReuseLevel::OccupationSpecific),
            _ => None,
        }
    }
}

/// Kind-specific attributes. Everything optional: sources fill what they know.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Attributes {
    /// ISCO-08 code: the unit group of an occupation, or the code of an ISCO group itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isco_code: Option<String>,
    /// Source-specific code (ESCO occupation code `2166.1.7`, BoK notation `AM1-1`, DigComp `1.1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skill_type: Option<SkillType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reuse_level: Option<ReuseLevel>,
    /// EQF levels (1–8) a material or qualification targets; a range gives every level in it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub eqf_levels: Vec<u8>,
    /// Language(s) a material is taught in, when that differs from the label language.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub teaching_languages: Vec<Lang>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licence: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// ESCO collections (digital, green, transversal, ...) or framework tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Free-form facts a source gives that have no field of their own (publisher, duration, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
}

/// One concept of any kind, with its labels in every language it has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Concept {
    pub id: ConceptId,
    pub kind: Kind,
    /// The framework or dataset it comes from: `esco`, `ecsf`, `eo4geo`, `digcomp`, or a generic source.
    pub source: String,
    pub labels: BTreeMap<Lang, LanguageLabels>,
    #[serde(default)]
    pub attributes: Attributes,
}

impl Concept {
    pub fn new(id: ConceptId, kind: Kind, source: impl Into<String>) -> Self {
        Concept {
            id,
            kind,
            source: source.into(),
            labels: BTreeMap::new(),
            attributes: Attributes::default(),
        }
    }

    /// Labels in `lang`, else English, else any language; with the language actually used.
    pub fn labels_in(&self, lang: &Lang) -> Option<(&Lang, &LanguageLabels)> {
        self.labels
            .get_key_value(lang)
            .or_else(|| self.labels.get_key_value(&Lang::english()))
            .or_else(|| self.labels.iter().next())
    }

    /// The display label in `lang` (falling back as [`Concept::labels_in`] does).
    pub fn display_label(&self, lang: &Lang) -> Option<(&Lang, &str)> {
        let (used, labels) = self.labels_in(lang)?;
        labels
            .preferred
            .as_deref()
            .or(labels.alternative.first().map(String::as_str))
            .map(|l| (used, l))
    }

    /// ISCO-08 group codes this concept belongs to, from major group down (`2`, `21`, `216`, `2166`).
    pub fn isco_prefixes(&self) -> Vec<String> {
        let Some(code) = self.attributes.isco_code.as_deref() else {
            return Vec::new();
        };
        (1..=code.len())
            .filter(|&n| code.is_char_boundary(n))
            .map(|n| code[..n].to_string())
            .collect()
    }
}

/// When long work must stop: a request's time limit, checked by the loops of duplicates,
/// matching and similarity so that work nobody waits for any more ends within one step (the
/// HTTP layer has already answered 408), instead of holding cores and memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline(Option<std::time::Instant>);

impl Deadline {
    /// No limit (the command line).
    pub const NONE: Deadline = Deadline(None);

    pub fn after(limit: std::time::Duration) -> Deadline {
        Deadline(std::time::Instant::now().checked_add(limit))
    }

    pub fn passed(&self) -> bool {
        self.0.is_some_and(|at| std::time::Instant::now() >= at)
    }

    /// `Err(Error::Timeout)` naming `work` once the deadline has passed.
    pub fn check(&self, work: &str) -> crate::error::Result<()> {
        if self.passed() {
            Err(crate::error::Error::Timeout(format!("{work} stopped")))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lang_parse_accepts_codes_and_rejects_junk() {
        assert_eq!(Lang::parse("DE").unwrap().as_str(), "de");
        assert!(Lang::parse("d").is_none());
        assert!(Lang::parse("deutsch").is_none());
        assert!(Lang::parse("d1").is_none());
    }

    #[test]
    fn normalise_drops_duplicates_and_repeated_preferred() {
        let mut labels = LanguageLabels {
            preferred: Some(" nurse  ".into()),
            alternative: vec!["nurse".into(), "RN".into(), "RN".into(), " ".into()],
            hidden: vec!["RN".into(), "sister".into()],
            ..Default::default()
        };
        labels.normalise();
        assert_eq!(labels.preferred.as_deref(), Some("nurse"));
        assert_eq!(labels.alternative, vec!["RN"]);
        assert_eq!(labels.hidden, vec!["sister"]);
    }

    #[test]
    fn isco_prefixes_cover_every_level() {
        let mut concept = Concept::new(ConceptId::new("x"), Kind::Occupation, "esco");
        concept.attributes.isco_code = Some("2166".into());
        assert_eq!(concept.isco_prefixes(), vec!["2", "21", "216", "2166"]);
    }

    #[test]
    fn display_label_falls_back_to_english() {
        let mut concept = Concept::new(ConceptId::new("x"), Kind::Occupation, "esco");
        concept.labels.insert(
            Lang::english(),
            LanguageLabels {
                preferred: Some("nurse".into()),
                ..Default::default()
            },
        );
        let (lang, label) = concept.display_label(&Lang::parse("lt").unwrap()).unwrap();
        assert_eq!((lang.as_str(), label), ("en", "nurse"));
    }

    #[test]
    fn a_deadline_passes_and_then_stops_work() {
        assert!(Deadline::NONE.check("x").is_ok());
        let later = Deadline::after(std::time::Duration::from_secs(3600));
        assert!(!later.passed() && later.check("x").is_ok());
        let now = Deadline::after(std::time::Duration::ZERO);
        assert!(now.passed());
        assert!(matches!(now.check("duplicates"), Err(crate::error::Error::Timeout(m)) if m.contains("duplicates")));
    }
}
