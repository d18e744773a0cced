//! Reader for the multilingual ESCO occupation label table (`occupation_labels.tsv[.gz]`): one
//! label per row (`conceptUri, conceptType, lang, labelType, label, escoVersion, source`), in 22
//! languages. Rows of one concept and language become one [`LanguageLabels`].

use std::collections::BTreeMap;
use std::path::Path;

use super::csv_util::{check_uri, Dialect, Table};
use super::FileBatch;
use crate::error::Result;
use crate::types::{Concept, ConceptId, Kind, Lang, LanguageLabels};

pub fn read(path: &Path) -> Result<FileBatch> {
    let mut table = Table::open(path, Dialect::Tsv)?;
    table.require_columns(&["conceptUri", "conceptType", "lang", "labelType", "label"])?;
    let mut concepts: BTreeMap<ConceptId, Concept> = BTreeMap::new();
    let mut batch = FileBatch::default();
    let mut errors = Vec::new();
    table.for_each(&mut errors, |row| {
        let result = (|| {
            let uri = check_uri(row, "conceptUri", row.required("conceptUri")?)?;
            let kind = match row.required("conceptType")? {
                "Occupation" => Kind::Occupation,
                "ISCOGroup" => Kind::IscoGroup,
                other => return Err(row.error("conceptType", format!("unexpected value {other:?}"))),
            };
            let lang_text = row.required("lang")?;
            let lang = Lang::parse(lang_text)
                .ok_or_else(|| row.error("lang", format!("not a language code: {lang_text:?}")))?;
            let label = row.required("label")?.to_string();
            let label_type = row.required("labelType")?.to_string();
            let version = row.get("escoVersion")?.map(str::to_string);
            let concept = concepts
                .entry(ConceptId::new(uri))
                .or_insert_with(|| Concept::new(ConceptId::new(uri), kind, "esco"));
            let labels: &mut LanguageLabels = concept.labels.entry(lang).or_default();
            labels.version = version;
            match label_type.as_str() {
                "preferred" => labels.preferred = Some(label),
                "alternative" | "alternative_or_hidden" => labels.alternative.push(label),
                "hidden" => labels.hidden.push(label),
                // MELO filled missing Norwegian labels with the English one: searchable, never
                // shown as Norwegian, so display falls back to English honestly.
                "preferred_en_fallback" => labels.hidden.push(label),
                other => return Err(row.error("labelType", format!("unknown value {other:?}"))),
            }
            Ok(())
        })();
        if let Err(error) = result {
            batch.errors.push(error);
        }
    });
    batch.errors.extend(errors);
    batch.concepts = concepts.into_values().collect();
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn groups_rows_by_concept_and_language() {
        let mut file = tempfile::Builder::new().suffix(".tsv").tempfile().unwrap();
        file.write_all(
            "conceptUri\tconceptType\tlang\tlabelType\tlabel\tescoVersion\tsource\n\
             http://e/o/1\tOccupation\tlt\tpreferred\tslaugytojas\t1.0.8\tmelo\n\
             http://e/o/1\tOccupation\tlt\talternative_or_hidden\tslaugytoja \"x\"\t1.0.8\tmelo\n\
             http://e/o/1\tOccupation\tno\tpreferred_en_fallback\tnurse\t1.0.8\tmelo\n\
             http://e/o/1\tOccupation\txx1\tpreferred\tbad\t1.0.8\tmelo\n"
                .as_bytes(),
        )
        .unwrap();
        let batch = read(file.path()).unwrap();
        assert_eq!(batch.concepts.len(), 1);
        let concept = &batch.concepts[0];
        let lt = &concept.labels[&Lang::parse("lt").unwrap()];
        assert_eq!(lt.preferred.as_deref(), Some("slaugytojas"));
        assert_eq!(lt.alternative, vec!["slaugytoja \"x\""]);
        assert!(concept.labels[&Lang::parse("no").unwrap()].preferred.is_none());
        assert_eq!(batch.errors.len(), 1);
        assert!(batch.errors[0].to_string().contains("line 5: field `lang`"));
    }
}
