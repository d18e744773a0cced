//! Reader for DigComp 3.0 (JRC) in the `location, context, source, target` layout of the
//! translation files: competence areas become skill groups (`digcomp:area:1`), competences become
//! skills (`digcomp:1.1`), and competence statements and learning outcomes are attached to their
//! competence as passages, in English (`source`) and the target language of the file name.

use std::path::Path;

use super::csv_util::{Dialect, Table};
use super::FileBatch;
use crate::error::Result;
use crate::types::{Concept, ConceptId, Kind, Lang, LanguageLabels, Relation, RelationType, SkillType};

/// `outcomes.en-nl.csv` → `nl`; `None` when the name carries no pair.
fn target_lang(path: &Path) -> Option<Lang> {
    let name = path.file_name()?.to_str()?;
    let pair = name.split('.').nth(1)?;
    let (_, target) = pair.split_once('-')?;
    Lang::parse(target)
}

/// What a `location` id names.
enum Location<'a> {
    AreaField(&'a str, &'a str),
    CompetenceField(&'a str, &'a str),
    /// A statement or outcome of the competence `n.m`.
    Passage(&'a str),
}

fn parse_location(location: &str) -> Option<Location<'_>> {
    let rest = location.strip_prefix("digcomp.")?;
    if let Some(rest) = rest.strip_prefix("area.") {
        let (number, field) = rest.split_once('.')?;
        return Some(Location::AreaField(number, field));
    }
    if let Some(rest) = rest.strip_prefix("competence.") {
        let (number, field) = rest.rsplit_once('.')?;
        return Some(Location::CompetenceField(number, field));
    }
    // digcomp.statement.CS1.1.01 / digcomp.outcome.LO1.1.01 → competence 1.1
    let rest = rest
        .strip_prefix("statement.CS")
        .or_else(|| rest.strip_prefix("outcome.LO"))?;
    let (competence, _) = rest.rsplit_once('.')?;
    Some(Location::Passage(competence))
}

fn competence_id(number: &str) -> ConceptId {
    ConceptId::new(format!("digcomp:{number}"))
}

pub fn read(path: &Path) -> Result<FileBatch> {
    let mut table = Table::open(path, Dialect::Csv)?;
    table.require_columns(&["location", "source"])?;
    let langs = [Some(Lang::english()), target_lang(path)];
    let mut batch = FileBatch::default();
    let mut errors = Vec::new();
    table.for_each(&mut errors, |row| {
        let result = (|| {
            let location = row.required("location")?;
            let parsed =
                parse_location(location).ok_or_else(|| row.error("location", format!("unknown id {location:?}")))?;
            let texts = [row.required("source")?, row.get("target")?.unwrap_or_default()];
            let (id, kind, field) = match parsed {
                Location::AreaField(number, field) => (
                    ConceptId::new(format!("digcomp:area:{number}")),
                    Kind::SkillGroup,
                    field,
                ),
                Location::CompetenceField(number, field) => (competence_id(number), Kind::Skill, field),
                Location::Passage(number) => (competence_id(number), Kind::Skill, "passage"),
            };
            let mut concept = Concept::new(id.clone(), kind, "digcomp");
            if kind == Kind::Skill {
                concept.attributes.skill_type = Some(SkillType::SkillCompetence);
                concept.attributes.code = id.as_str().strip_prefix("digcomp:").map(str::to_string);
            }
            for (lang, text) in langs.iter().zip(texts) {
                let (Some(lang), false) = (lang, text.is_empty()) else {
                    continue;
                };
                let mut labels = LanguageLabels {
                    version: Some("3.0".into()),
                    ..Default::default()
                };
                match field {
                    "label" => labels.preferred = Some(text.to_string()),
                    "description" => labels.description = Some(text.to_string()),
                    "passage" => labels.passages.push(text.to_string()),
                    _ => return Err(row.error("location", format!("unknown field in {location:?}"))),
                }
                concept.labels.insert(lang.clone(), labels);
            }
            let mut relations = Vec::new();
            if let Location::CompetenceField(number, "label") = parsed {
                if let Some((area, _)) = number.split_once('.') {
                    let to = ConceptId::new(format!("digcomp:area:{area}"));
                    relations.push(Relation {
                        from: id.clone(),
                        relation: RelationType::Broader,
                        to,
                        level: None,
                    });
                }
            }
            Ok((concept, relations, field == "passage"))
        })();
        match result {
            Ok((concept, relations, passage)) => {
                batch.attached += usize::from(passage);
                if !passage {
                    batch.relations.extend(relations);
                }
                batch.concepts.push(concept);
            }
            Err(error) => batch.errors.push(error),
        }
    });
    batch.errors.extend(errors);
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse() {
        assert!(matches!(
            parse_location("digcomp.area.1.label"),
            Some(Location::AreaField("1", "label"))
        ));
        assert!(matches!(
            parse_location("digcomp.competence.1.2.description"),
            Some(Location::CompetenceField("1.2", "description"))
        ));
        assert!(matches!(
            parse_location("digcomp.outcome.LO1.1.01"),
            Some(Location::Passage("1.1"))
        ));
        assert!(matches!(
            parse_location("digcomp.statement.CS5.4.12"),
            Some(Location::Passage("5.4"))
        ));
        assert!(parse_location("other.thing").is_none());
        assert_eq!(target_lang(Path::new("x/outcomes.en-nl.csv")).unwrap().as_str(), "nl");
    }
}
