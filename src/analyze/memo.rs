//! A bounded, process-wide memo of labels' analysis (each word's folded form, trigrams and stem
//! in the label's language, and the label's sorted trigrams), so that a search does not segment,
//! fold and stem again the labels it met before.
//!
//! Explaining a search's ~100 text candidates reads their ~1,000 labels, and their words repeat
//! from one query to the next: the same occupations come back for related titles. Folding (NFD),
//! trigrams and Snowball stemming of those words was ~2.5 ms of a job-title search, more than the
//! tantivy query itself. The analysis is a pure function of (language, word), so it is kept for
//! the process in sharded caches (`quick_cache`, CLOCK-Pro eviction: Jiang, Chen & Zhang,
//! USENIX ATC 2005), one of words and one of whole labels (whose entries share the words'),
//! bounded by [`CAPACITY`] words and [`LABEL_CAPACITY`] labels: about 60 MB at most.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use quick_cache::sync::Cache;

use super::{fold, word_trigrams, Analyzer};
use crate::types::Lang;

/// Words kept: the label vocabulary that searches meet (every language's occupation labels hold
/// fewer distinct words than this), at ~250 bytes each.
pub const CAPACITY: usize = 120_000;
/// Labels kept: the candidates' labels of many thousands of distinct searches, at ~400 bytes each.
pub const LABEL_CAPACITY: usize = 100_000;

/// What a label word is to the search's explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelWord {
    /// [`fold`] of the word.
    pub folded: String,
    /// [`word_trigrams`] of the folded word (empty for an empty fold).
    pub grams: Vec<[char; 3]>,
    /// The word's stem under its label's language ([`Analyzer::stem`]); `None` when the label's
    /// language is not a valid code.
    pub stem: Option<String>,
}

impl LabelWord {
    /// The analysis itself, without the memo.
    pub fn analyse(lang: &str, word: &str) -> LabelWord {
        let folded = fold(word);
        let grams = match folded.is_empty() {
            true => Vec::new(),
            false => word_trigrams(&folded).collect(),
        };
        let stem = Lang::parse(lang).map(|lang| {
            thread_local! {
                // tantivy's stemmers need `&mut`: one analyzer per language and thread.
                static ANALYZERS: RefCell<HashMap<String, Analyzer>> = RefCell::new(HashMap::new());
            }
            ANALYZERS.with(|analyzers| {
                let mut analyzers = analyzers.borrow_mut();
                analyzers
                    .entry(lang.as_str().to_string())
                    .or_insert_with(|| Analyzer::for_lang(&lang))
                    .stem(word)
            })
        });
        LabelWord { folded, grams, stem }
    }
}

fn memo() -> &'static Cache<String, Arc<LabelWord>> {
    static MEMO: OnceLock<Cache<String, Arc<LabelWord>>> = OnceLock::new();
    MEMO.get_or_init(|| Cache::new(CAPACITY))
}

/// The analysis of `word` in a label of language `lang`, from the memo when it was seen before.
pub fn label_word(lang: &str, word: &str) -> Arc<LabelWord> {
    // One key for both: a language code never holds the separator.
    let key = format!("{lang}\u{1f}{word}");
    if let Some(known) = memo().get(key.as_str()) {
        return known;
    }
    let analysed = Arc::new(LabelWord::analyse(lang, word));
    memo().insert(key, analysed.clone());
    analysed
}

/// What a label is to the search's explanation: its words in order and their trigrams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelAnalysis {
    /// Each word of the label ([`super::words`]), analysed.
    pub words: Vec<Arc<LabelWord>>,
    /// The words' trigrams together, sorted: [`crate::search::ranker::trigrams`] of the label's
    /// folded words, for [`crate::search::ranker::trigram_dice`].
    pub grams: Vec<[char; 3]>,
}

impl LabelAnalysis {
    /// The analysis itself, its words from the memo of words.
    pub fn analyse(lang: &str, label: &str) -> LabelAnalysis {
        let words: Vec<Arc<LabelWord>> = super::words(label).map(|word| label_word(lang, word)).collect();
        let mut grams: Vec<[char; 3]> = words.iter().flat_map(|w| w.grams.iter().copied()).collect();
        grams.sort_unstable();
        LabelAnalysis { words, grams }
    }
}

/// The analysis of a label of language `lang`, from the memo when it was seen before.
pub fn label(lang: &str, label: &str) -> Arc<LabelAnalysis> {
    static MEMO: OnceLock<Cache<String, Arc<LabelAnalysis>>> = OnceLock::new();
    let memo = MEMO.get_or_init(|| Cache::new(LABEL_CAPACITY));
    let key = format!("{lang}\u{1f}{label}");
    if let Some(known) = memo.get(key.as_str()) {
        return known;
    }
    let analysed = Arc::new(LabelAnalysis::analyse(lang, label));
    memo.insert(key, analysed.clone());
    analysed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memo_answers_what_the_analysis_gives() {
        for (lang, word) in [
            ("de", "Krankenpfleger"),
            ("sv", "lastbilschaufför"),
            ("pl", "programista"),
            ("xx-1", "Nurse"),
        ] {
            let first = label_word(lang, word);
            let again = label_word(lang, word);
            assert_eq!(*first, LabelWord::analyse(lang, word));
            assert!(Arc::ptr_eq(&first, &again), "{word}: analysed twice");
        }
        let german = label_word("de", "Krankenpfleger");
        assert_eq!(german.folded, "krankenpfleger");
        assert_eq!(german.stem.as_deref(), Some("krankenpfleg"));
        assert_eq!(german.grams.first(), Some(&[' ', 'k', 'r']));
        // Another language, another stem; an invalid code, none.
        assert_eq!(label_word("en", "nurses").stem.as_deref(), Some("nurs"));
        assert_eq!(label_word("xx-1", "Nurse").stem, None);
    }

    #[test]
    fn a_label_is_its_words_and_their_trigrams() {
        let analysed = label("sv", "Lastbilschaufför, fjärrtrafik");
        assert_eq!(*analysed, LabelAnalysis::analyse("sv", "Lastbilschaufför, fjärrtrafik"));
        assert!(Arc::ptr_eq(&analysed, &label("sv", "Lastbilschaufför, fjärrtrafik")));
        let folded: Vec<&str> = analysed.words.iter().map(|w| w.folded.as_str()).collect();
        assert_eq!(folded, ["lastbilschauffor", "fjarrtrafik"]);
        // The same trigrams as the fusion's reading of the whole label.
        assert_eq!(
            analysed.grams,
            crate::search::ranker::trigrams("lastbilschauffor fjarrtrafik")
        );
    }
}
