//! Ingest: finds input files, reads each with the reader its name calls for, and merges every
//! record into one [`Catalog`] keyed by concept id. Bad records become located [`InputError`]s
//! that are counted and reported per file; `strict` turns the first one into a failure.
//!
//! Merge rule: a concept seen in several files (ESCO languages, versions, the multilingual label
//! table) is merged per language; within one language the labels of the newest release win, older
//! releases only fill gaps (a missing description, a missing preferred label).

mod csv_util;
mod digcomp;
mod ecsf;
mod eo4geo;
mod esco_csv;
mod esco_labels;
mod generic;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, InputError, Result};
use crate::types::{Concept, ConceptId, Kind, Lang, LanguageLabels, Relation};

pub use generic::GenericRecord;

/// Most errors kept verbatim per file in the report (all are counted).
const ERRORS_KEPT_PER_FILE: usize = 20;

/// What a reader produces from one file.
#[derive(Debug, Default)]
pub struct FileBatch {
    pub concepts: Vec<Concept>,
    pub relations: Vec<Relation>,
    pub errors: Vec<InputError>,
    /// Records read that are not concepts or relations of their own (e.g. DigComp statements,
    /// BoK learning outcomes, attached to a concept as passages).
    pub attached: usize,
}

/// How a file was (or was not) read.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub path: PathBuf,
    pub reader: &'static str,
    pub concepts: usize,
    pub relations: usize,
    pub attached: usize,
    pub skipped: usize,
    pub first_errors: Vec<String>,
    /// Records whose id an earlier record of the same file already had (merged into it, the
    /// later one's labels winning), and the first such ids.
    pub duplicate_ids: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub first_duplicate_ids: Vec<String>,
    /// Why nothing could be read from the file (unreadable, empty, not the format its name
    /// says); the build went on without it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

/// A file that was seen but not read, and why.
#[derive(Debug, Clone, Serialize)]
pub struct IgnoredFile {
    pub path: PathBuf,
    pub reason: &'static str,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestReport {
    pub files: Vec<FileReport>,
    pub ignored: Vec<IgnoredFile>,
    /// Relations dropped because one end is not in the catalogue (ESCO ships a few).
    pub dangling_relations: usize,
}

impl IngestReport {
    pub fn skipped(&self) -> usize {
        self.files.iter().map(|f| f.skipped).sum()
    }

    /// Files that could not be read at all.
    pub fn failed_files(&self) -> impl Iterator<Item = &FileReport> {
        self.files.iter().filter(|f| f.failed.is_some())
    }

    pub fn duplicate_ids(&self) -> usize {
        self.files.iter().map(|f| f.duplicate_ids).sum()
    }
}

/// Every concept and relation read, merged by id.
#[derive(Debug, Default, Clone, Serialize, serde::Deserialize)]
pub struct Catalog {
    pub concepts: BTreeMap<ConceptId, Concept>,
    pub relations: Vec<Relation>,
}

impl Catalog {
    /// Adds a concept, merging it into an existing one with the same id.
    pub fn merge(&mut self, concept: Concept) {
        match self.concepts.get_mut(&concept.id) {
            None => {
                self.concepts.insert(concept.id.clone(), concept);
            }
            Some(existing) => merge_concept(existing, concept),
        }
    }

    /// Sorts and de-duplicates relations; drops those whose ends are unknown. Returns how many
    /// were dropped.
    pub fn finish(&mut self) -> usize {
        let unique: BTreeSet<Relation> = std::mem::take(&mut self.relations).into_iter().collect();
        let before = unique.len();
        self.relations = unique
            .into_iter()
            .filter(|r| self.concepts.contains_key(&r.from) && self.concepts.contains_key(&r.to))
            .collect();
        for concept in self.concepts.values_mut() {
            for labels in concept.labels.values_mut() {
                labels.normalise();
            }
            concept
                .labels
                .retain(|_, labels| labels.label_count() > 0 || labels.description.is_some());
        }
        before - self.relations.len()
    }

    /// Concept counts per kind and language (a concept counts once per language it has labels in).
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for concept in self.concepts.values() {
            *counts.per_kind.entry(concept.kind).or_default() += 1;
            for (lang, labels) in &concept.labels {
                let entry = counts
                    .per_kind_and_lang
                    .entry(concept.kind)
                    .or_default()
                    .entry(lang.clone())
                    .or_default();
                *entry += 1;
                *counts.labels_per_lang.entry(lang.clone()).or_default() += labels.label_count();
            }
        }
        for relation in &self.relations {
            *counts
                .relations
                .entry(relation.relation.as_str().to_string())
                .or_default() += 1;
        }
        counts
    }
}

/// Counts that the manifest and the closing summary report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Counts {
    pub per_kind: BTreeMap<Kind, usize>,
    pub per_kind_and_lang: BTreeMap<Kind, BTreeMap<Lang, usize>>,
    pub labels_per_lang: BTreeMap<Lang, usize>,
    pub relations: BTreeMap<String, usize>,
}

fn version_key(version: Option<&str>) -> Vec<u64> {
    version
        .map(|v| v.split('.').map(|part| part.parse().unwrap_or(0)).collect())
        .unwrap_or_default()
}

fn newest_version(concept: &Concept) -> Vec<u64> {
    concept
        .labels
        .values()
        .map(|labels| version_key(labels.version.as_deref()))
        .max()
        .unwrap_or_default()
}

fn merge_concept(existing: &mut Concept, incoming: Concept) {
    // A concept can change kind between releases (ESCO 1.0.3 skill groups that 1.1 made skills).
    if incoming.kind != existing.kind && newest_version(&incoming) > newest_version(existing) {
        existing.kind = incoming.kind;
    }
    for (lang, new) in incoming.labels {
        match existing.labels.get_mut(&lang) {
            None => {
                existing.labels.insert(lang, new);
            }
            Some(old) => merge_language(old, new),
        }
    }
    let (old, new) = (&mut existing.attributes, incoming.attributes);
    old.isco_code = old.isco_code.take().or(new.isco_code);
    old.code = old.code.take().or(new.code);
    old.skill_type = old.skill_type.or(new.skill_type);
    old.reuse_level = old.reuse_level.or(new.reuse_level);
    old.licence = old.licence.take().or(new.licence);
    old.url = old.url.take().or(new.url);
    for level in new.eqf_levels {
        if !old.eqf_levels.contains(&level) {
            old.eqf_levels.push(level);
        }
    }
    for lang in new.teaching_languages {
        if !old.teaching_languages.contains(&lang) {
            old.teaching_languages.push(lang);
        }
    }
    for tag in new.tags {
        if !old.tags.contains(&tag) {
            old.tags.push(tag);
        }
    }
    for (key, value) in new.extra {
        old.extra.entry(key).or_insert(value);
    }
}

fn merge_language(old: &mut LanguageLabels, new: LanguageLabels) {
    let newer = version_key(new.version.as_deref()) >= version_key(old.version.as_deref());
    let has_labels = new.preferred.is_some() || !new.alternative.is_empty();
    if newer && has_labels {
        old.preferred = new.preferred.or(old.preferred.take());
        old.alternative = new.alternative;
        // Hidden labels are search-only; an older release's hidden forms are still worth finding.
        for hidden in new.hidden {
            if !old.hidden.contains(&hidden) {
                old.hidden.push(hidden);
            }
        }
        old.version = new.version;
    } else {
        if old.preferred.is_none() {
            old.preferred = new.preferred;
        }
        if old.alternative.is_empty() {
            old.alternative = new.alternative;
        }
        for hidden in new.hidden {
            if !old.hidden.contains(&hidden) {
                old.hidden.push(hidden);
            }
        }
    }
    if new.description.is_some() && (newer || old.description.is_none()) {
        old.description = new.description;
    }
    for passage in new.passages {
        if !old.passages.contains(&passage) {
            old.passages.push(passage);
        }
    }
}

/// Which reader a file needs, decided from its name alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reader {
    EscoConcepts(Kind),
    EscoCollection,
    EscoRelations,
    EscoLabelTable,
    Ecsf,
    Eo4geoBokJson,
    Eo4geoBokXml,
    Eo4geoMaterials,
    DigComp,
    Generic,
}

impl Reader {
    /// Formats with one record per concept, where an id seen twice is a mistake. The others
    /// repeat ids by design: the label table has a row per label, DigComp statements and the
    /// ECSF and BoK trees name the competences and skills they hang from.
    fn one_record_per_concept(self) -> bool {
        match self {
            Reader::EscoConcepts(_) | Reader::EscoCollection | Reader::Eo4geoMaterials | Reader::Generic => true,
            Reader::EscoRelations
            | Reader::EscoLabelTable
            | Reader::Ecsf
            | Reader::Eo4geoBokJson
            | Reader::Eo4geoBokXml
            | Reader::DigComp => false,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Reader::EscoConcepts(_) => "esco-csv",
            Reader::EscoCollection => "esco-collection",
            Reader::EscoRelations => "esco-relations",
            Reader::EscoLabelTable => "esco-label-table",
            Reader::Ecsf => "ecsf",
            Reader::Eo4geoBokJson => "eo4geo-bok-json",
            Reader::Eo4geoBokXml => "eo4geo-bok-xml",
            Reader::Eo4geoMaterials => "eo4geo-materials",
            Reader::DigComp => "digcomp",
            Reader::Generic => "generic-jsonl",
        }
    }
}

fn classify(path: &Path) -> std::result::Result<Reader, &'static str> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let esco_concept = |prefix: &str| name.starts_with(prefix) && name.ends_with(".csv");
    if esco_concept("occupations_") {
        Ok(Reader::EscoConcepts(Kind::Occupation))
    } else if esco_concept("skills_") {
        Ok(Reader::EscoConcepts(Kind::Skill))
    } else if esco_concept("iscogroups_") {
        Ok(Reader::EscoConcepts(Kind::IscoGroup))
    } else if esco_concept("skillgroups_") {
        Ok(Reader::EscoConcepts(Kind::SkillGroup))
    } else if name.ends_with(".csv") && name.contains("collection_") {
        Ok(Reader::EscoCollection)
    } else if name.ends_with(".csv")
        && (name.starts_with("occupationskillrelations")
            || name.starts_with("skillskillrelations")
            || name.starts_with("broaderrelations"))
    {
        Ok(Reader::EscoRelations)
    } else if name.starts_with("skillshierarchy_") {
        Err("the skill hierarchy is read from broaderRelationsSkillPillar*.csv")
    } else if name.starts_with("conceptschemes_") {
        Err("concept schemes are not searchable records")
    } else if name.starts_with("occupation_labels.tsv") {
        Ok(Reader::EscoLabelTable)
    } else if name.starts_with("occupations_multilingual.jsonl") {
        Err("same labels as occupation_labels.tsv.gz, which is read instead")
    } else if name.ends_with(".profiles.json") && name.contains("ecsf") {
        Ok(Reader::Ecsf)
    } else if name.starts_with("ecsf") && name.ends_with(".json") {
        Err("read together with ECSF-*.profiles.json, for profile ids")
    } else if name.starts_with("eo4geobok") && name.ends_with(".json") {
        Ok(Reader::Eo4geoBokJson)
    } else if name.contains("bok") && name.ends_with(".xml") {
        Ok(Reader::Eo4geoBokXml)
    } else if name == "training_materials_metadata.csv" {
        Ok(Reader::Eo4geoMaterials)
    } else if name.starts_with("levels.") && name.ends_with(".csv") {
        Err("proficiency level descriptors are not searchable records")
    } else if ["core-framework.", "statements.", "outcomes."]
        .iter()
        .any(|p| name.starts_with(p))
        && name.ends_with(".csv")
    {
        Ok(Reader::DigComp)
    } else if name.ends_with(".jsonl") {
        Ok(Reader::Generic)
    } else if name.ends_with(".md") || name.ends_with(".txt") {
        Err("documentation")
    } else {
        Err("unrecognised file name (see README, section Data formats)")
    }
}

fn read_file(reader: Reader, path: &Path) -> Result<FileBatch> {
    match reader {
        Reader::EscoConcepts(kind) => esco_csv::read_concepts(path, kind),
        Reader::EscoCollection => esco_csv::read_collection(path),
        Reader::EscoRelations => esco_csv::read_relations(path),
        Reader::EscoLabelTable => esco_labels::read(path),
        Reader::Ecsf => ecsf::read(path),
        Reader::Eo4geoBokJson => eo4geo::read_bok_json(path),
        Reader::Eo4geoBokXml => eo4geo::read_bok_xml(path),
        Reader::Eo4geoMaterials => eo4geo::read_materials(path),
        Reader::DigComp => digcomp::read(path),
        Reader::Generic => generic::read(path),
    }
}

/// Lists every file under the given paths (files are taken as given), sorted for a stable merge.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        // A data path that is not there is the user's to fix (exit 2), not a machine failure.
        let metadata = std::fs::metadata(path)
            .map_err(|e| Error::Config(format!("data path {} cannot be read: {e}", path.display())))?;
        if metadata.is_file() {
            files.push(path.clone());
        } else {
            walk(path, &mut files)?;
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("cannot list directory", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("cannot list directory", dir, e))?;
        let path = entry.path();
        let file_type = entry.file_type().map_err(|e| Error::io("cannot stat", &path, e))?;
        if file_type.is_dir() {
            walk(&path, files)?;
        } else if file_type.is_file() || file_type.is_symlink() {
            files.push(path);
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, Default)]
pub struct IngestOptions {
    /// Stop at the first bad record instead of skipping it.
    pub strict: bool,
}

/// Reads every file under `paths` and merges them. `progress` is called once per file read.
pub fn ingest(
    paths: &[PathBuf],
    options: IngestOptions,
    progress: &(dyn Fn(&Path) + Sync),
) -> Result<(Catalog, IngestReport)> {
    let files = discover(paths)?;
    let mut report = IngestReport::default();
    let mut to_read = Vec::new();
    for path in files {
        match classify(&path) {
            Ok(reader) => to_read.push((reader, path)),
            Err(reason) => report.ignored.push(IgnoredFile { path, reason }),
        }
    }
    // Files are read in parallel, merged in sorted order so that the result is deterministic.
    let batches: Vec<Result<FileBatch>> = to_read
        .par_iter()
        .map(|(reader, path)| {
            let batch = read_file(*reader, path);
            progress(path);
            batch
        })
        .collect();
    let mut catalog = Catalog::default();
    for ((reader, path), batch) in to_read.into_iter().zip(batches) {
        let batch = match batch {
            Ok(batch) => batch,
            // One unreadable file (empty, bad gzip, not the format its name says) does not stop
            // the build unless asked to: it is reported, located, and left out.
            Err(error) if !options.strict => {
                report.files.push(FileReport {
                    path,
                    reader: reader.name(),
                    concepts: 0,
                    relations: 0,
                    attached: 0,
                    skipped: 0,
                    first_errors: Vec::new(),
                    duplicate_ids: 0,
                    first_duplicate_ids: Vec::new(),
                    failed: Some(error.to_string()),
                });
                continue;
            }
            Err(error) => return Err(error),
        };
        if options.strict {
            if let Some(error) = batch.errors.first() {
                return Err(Error::Input(error.clone()));
            }
        }
        let duplicates = if reader.one_record_per_concept() {
            duplicate_ids(&batch.concepts)
        } else {
            Vec::new()
        };
        if options.strict {
            if let Some(id) = duplicates.first() {
                return Err(Error::Input(InputError {
                    file: path,
                    position: crate::error::Position::Path(id.to_string()),
                    field: Some("id".into()),
                    message: format!(
                        "{} records share an id with an earlier record of this file (first: {id})",
                        duplicates.len()
                    ),
                }));
            }
        }
        report.files.push(FileReport {
            path,
            reader: reader.name(),
            concepts: batch.concepts.len() - duplicates.len(),
            relations: batch.relations.len(),
            attached: batch.attached,
            skipped: batch.errors.len(),
            first_errors: batch
                .errors
                .iter()
                .take(ERRORS_KEPT_PER_FILE)
                .map(ToString::to_string)
                .collect(),
            duplicate_ids: duplicates.len(),
            first_duplicate_ids: duplicates
                .iter()
                .take(ERRORS_KEPT_PER_FILE)
                .map(ToString::to_string)
                .collect(),
            failed: None,
        });
        for concept in batch.concepts {
            catalog.merge(concept);
        }
        catalog.relations.extend(batch.relations);
    }
    report.dangling_relations = catalog.finish();
    Ok((catalog, report))
}

/// Ids that an earlier concept of the same file already had, in file order: in a file of one
/// record per concept, a repeat is a mistake that merging would hide.
fn duplicate_ids(concepts: &[Concept]) -> Vec<&ConceptId> {
    let mut seen: std::collections::HashSet<&ConceptId> = std::collections::HashSet::new();
    concepts
        .iter()
        .filter(|concept| !seen.insert(&concept.id))
        .map(|concept| &concept.id)
        .collect()
}

/// Reads the language from an ESCO-style file name: `occupations_de.csv` → `de`.
fn lang_from_file_name(path: &Path) -> Option<Lang> {
    let stem = path.file_stem()?.to_str()?;
    let (_, suffix) = stem.rsplit_once('_')?;
    Lang::parse(suffix)
}

/// Reads a release number from the path (`…/esco/v1.2.0/de/…` → `1.2.0`).
fn version_from_path(path: &Path) -> Option<String> {
    path.components().rev().find_map(|component| {
        let text = component.as_os_str().to_str()?;
        let digits = text.strip_prefix('v').unwrap_or(text);
        let looks_like_version = digits.contains('.')
            && digits
                .split('.')
                .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()));
        looks_like_version.then(|| digits.to_string())
    })
}

/// A lowercase ASCII slug for building source-qualified ids from titles.
pub(crate) fn slug(text: &str) -> String {
    let mut slug = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_routes_real_file_names() {
        assert_eq!(
            classify(Path::new("a/occupations_en.csv")),
            Ok(Reader::EscoConcepts(Kind::Occupation))
        );
        assert_eq!(
            classify(Path::new("a/ISCOGroups_fr.csv")),
            Ok(Reader::EscoConcepts(Kind::IscoGroup))
        );
        assert_eq!(
            classify(Path::new("a/greenSkillsCollection_de.csv")),
            Ok(Reader::EscoCollection)
        );
        assert_eq!(
            classify(Path::new("a/broaderRelationsOccPillar_de.csv")),
            Ok(Reader::EscoRelations)
        );
        assert_eq!(classify(Path::new("a/ECSF-v1.profiles.json")), Ok(Reader::Ecsf));
        assert_eq!(classify(Path::new("a/outcomes.en-nl.csv")), Ok(Reader::DigComp));
        assert!(classify(Path::new("a/README.md")).is_err());
        assert!(classify(Path::new("a/skillsHierarchy_en.csv")).is_err());
    }

    #[test]
    fn version_and_lang_come_from_the_path() {
        let path = Path::new("/data/esco/v1.2.0/de/occupations_de.csv");
        assert_eq!(version_from_path(path).as_deref(), Some("1.2.0"));
        assert_eq!(lang_from_file_name(path).unwrap().as_str(), "de");
        assert_eq!(version_from_path(Path::new("/data/x/occupations_de.csv")), None);
    }

    #[test]
    fn newer_release_replaces_labels_older_fills_gaps() {
        let id = ConceptId::new("http://data.europa.eu/esco/occupation/1");
        let fr = Lang::parse("fr").unwrap();
        let concept = |version: &str, preferred: &str, description: Option<&str>| {
            let mut c = Concept::new(id.clone(), Kind::Occupation, "esco");
            c.labels.insert(
                fr.clone(),
                LanguageLabels {
                    preferred: Some(preferred.into()),
                    description: description.map(Into::into),
                    version: Some(version.into()),
                    ..Default::default()
                },
            );
            c
        };
        let mut catalog = Catalog::default();
        catalog.merge(concept("1.1.1", "nouveau", None));
        catalog.merge(concept("1.0.3", "ancien", Some("une description")));
        let labels = &catalog.concepts[&id].labels[&fr];
        assert_eq!(labels.preferred.as_deref(), Some("nouveau"));
        assert_eq!(labels.description.as_deref(), Some("une description"));
        assert_eq!(labels.version.as_deref(), Some("1.1.1"));
    }

    #[test]
    fn the_newest_release_decides_the_kind() {
        let id = ConceptId::new("http://data.europa.eu/esco/skill/1");
        let with_version = |kind: Kind, version: &str| {
            let mut concept = Concept::new(id.clone(), kind, "esco");
            let labels = LanguageLabels {
                preferred: Some("x".into()),
                version: Some(version.into()),
                ..Default::default()
            };
            concept.labels.insert(Lang::english(), labels);
            concept
        };
        let mut catalog = Catalog::default();
        catalog.merge(with_version(Kind::SkillGroup, "1.0.3"));
        catalog.merge(with_version(Kind::Skill, "1.1.1"));
        catalog.merge(with_version(Kind::SkillGroup, "1.0.3"));
        assert_eq!(catalog.concepts[&id].kind, Kind::Skill);
    }

    #[test]
    fn dangling_relations_are_dropped_and_counted() {
        let mut catalog = Catalog::default();
        let a = ConceptId::new("a");
        catalog.merge(Concept::new(a.clone(), Kind::Skill, "x"));
        catalog.relations.push(Relation {
            from: a.clone(),
            relation: crate::types::RelationType::Broader,
            to: ConceptId::new("missing"),
            level: None,
        });
        assert_eq!(catalog.finish(), 1);
        assert!(catalog.relations.is_empty());
    }

    #[test]
    fn slug_is_ascii_friendly() {
        assert_eq!(
            slug("Chief Information Security Officer (CISO)"),
            "chief-information-security-officer-ciso"
        );
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn profile_line(id: &str, title: &str) -> String {
        format!(r#"{{"id":"{id}","kind":"profile","source":"alliance","labels":{{"en":{{"preferred":"{title}"}}}}}}"#)
    }

    #[test]
    fn duplicate_ids_in_a_file_are_counted_and_strict_refuses_them() {
        let dir = tempfile::tempdir().unwrap();
        let lines = [
            profile_line("a:1", "first"),
            profile_line("a:2", "second"),
            profile_line("a:1", "first again"),
        ];
        write(dir.path(), "alliance.jsonl", lines.join("\n").as_bytes());
        let paths = [dir.path().to_path_buf()];
        let (catalog, report) = ingest(&paths, IngestOptions::default(), &|_| {}).unwrap();
        assert_eq!(catalog.concepts.len(), 2);
        assert_eq!(report.duplicate_ids(), 1);
        assert_eq!(report.files[0].first_duplicate_ids, vec!["a:1"]);
        assert_eq!(report.files[0].concepts, 2);
        let error = ingest(&paths, IngestOptions { strict: true }, &|_| {})
            .unwrap_err()
            .to_string();
        assert!(error.contains("alliance.jsonl") && error.contains("a:1"), "{error}");
    }

    #[test]
    fn an_unreadable_file_is_reported_and_skipped_unless_strict() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "alliance.jsonl", profile_line("a:1", "kept").as_bytes());
        write(dir.path(), "occupations_en.csv", b"");
        write(
            dir.path(),
            "occupation_labels.tsv.gz",
            b"\x1f\x8b\x08\x00 not gzip after all",
        );
        let paths = [dir.path().to_path_buf()];
        let (catalog, report) = ingest(&paths, IngestOptions::default(), &|_| {}).unwrap();
        assert_eq!(catalog.concepts.len(), 1, "the good file still counts");
        let failed: Vec<(String, &str)> = report
            .failed_files()
            .map(|f| {
                (
                    f.path.file_name().unwrap().to_string_lossy().into_owned(),
                    f.failed.as_deref().unwrap(),
                )
            })
            .collect();
        assert_eq!(failed.len(), 2, "{failed:?}");
        for (name, why) in &failed {
            assert!(why.contains(name.as_str()), "the message names the file: {why}");
        }
        assert!(
            failed
                .iter()
                .any(|(_, why)| why.contains("line 1") && why.contains("empty")),
            "{failed:?}"
        );
        let error = ingest(&paths, IngestOptions { strict: true }, &|_| {}).unwrap_err();
        assert!(
            error.to_string().contains("occupations_en.csv") || error.to_string().contains("occupation_labels.tsv.gz")
        );
    }

    #[test]
    fn a_missing_data_path_is_the_users_to_fix() {
        let error = ingest(&[PathBuf::from("/no/such/data")], IngestOptions::default(), &|_| {}).unwrap_err();
        assert!(error.is_user_error(), "{error}");
        assert!(error.to_string().contains("/no/such/data"), "{error}");
    }
}
