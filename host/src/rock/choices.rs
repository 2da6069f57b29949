//! The choices of the "PCO Tags" person attribute: every configured account's PCO tags, so
//! staff pick them on a person's profile in Rock's own UI (seed 000, "Update Tags"; R2 a).
//!
//! Rock keeps a multi-select attribute's choices in its `values` AttributeQualifier, read by
//! `Rock/Field/Helper.cs` `GetConfiguredValues`: options separated by ',', each `value^text`
//! (or a bare value, its own text), both trimmed. The value is what the sync writes in the
//! attribute, `account:tag group:tag`; the text is what staff see: the tag (with the account
//! first when several accounts sync), and an asterisk after a tag mapped to a Rock group,
//! whose selection the sync sets from membership (the seed's asterisk, R14).

use std::collections::BTreeSet;

/// Put after the text of a group-controlled tag (seed 000: "Any tag that is selected to sync
/// with a group will appear with an asterisk on the person attribute").
pub const GROUP_MARK: &str = " *";

/// One account's tags, as its PCO `choices` gave them, and the tags it maps to Rock groups.
pub struct AccountTags<'a> {
    pub account: &'a str,
    pub tags: &'a [String],
    pub mapped: &'a BTreeSet<String>,
}

/// The options to offer, and the tags Rock's format cannot hold.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Choices {
    /// `(value, text)`, one per tag.
    pub options: Vec<(String, String)>,
    /// `account:tag` values left out: a ',' or '^' in them, or spaces around them, would be
    /// split or trimmed by Rock, so the value picked would not be the one the sync reads.
    pub skipped: Vec<String>,
}

/// The options of `accounts`; `several` when more than one account is configured (the text
/// then names the account).
pub fn build(accounts: &[AccountTags], several: bool) -> Choices {
    let mut choices = Choices::default();
    for account in accounts {
        for tag in account.tags {
            let value = format!("{}:{tag}", account.account);
            if !representable(&value) {
                choices.skipped.push(value);
                continue;
            }
            let mut text = if several { value.clone() } else { tag.clone() };
            if account.mapped.contains(tag) {
                text.push_str(GROUP_MARK);
            }
            choices.options.push((value, text));
        }
    }
    choices
}

fn representable(value: &str) -> bool {
    !value.contains([',', '^']) && value.trim() == value && !value.is_empty()
}

/// The options of a `values` qualifier, as `GetConfiguredValues` reads them (the SQL form is
/// not expected here and reads as nothing useful).
pub fn parse(qualifier: &str) -> Vec<(String, String)> {
    let mut options: Vec<(String, String)> = Vec::new();
    for option in qualifier.split(',').filter(|o| !o.is_empty()) {
        let mut parts = option.split('^').filter(|p| !p.is_empty());
        let Some(value) = parts.next() else { continue };
        let value = value.trim().to_string();
        let text = parts.next().map_or(value.clone(), |t| t.trim().to_string());
        if !options.iter().any(|(v, _)| *v == value) {
            options.push((value, text));
        }
    }
    options
}

/// The qualifier holding `options`, sorted by value so that the same tags always give the
/// same text (a refresh that changes nothing writes nothing).
pub fn qualifier(options: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = options.iter().collect();
    sorted.sort();
    sorted.dedup_by(|a, b| a.0 == b.0);
    sorted
        .iter()
        .map(|(value, text)| {
            if value == text {
                value.clone()
            } else {
                format!("{value}^{text}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The new qualifier: the `existing` options that `keep` says stay (e.g. another account's),
/// and `options`.
pub fn merge(existing: &str, keep: impl Fn(&str) -> bool, options: &[(String, String)]) -> String {
    let mut all: Vec<(String, String)> = parse(existing)
        .into_iter()
        .filter(|(value, _)| keep(value))
        .filter(|(value, _)| !options.iter().any(|(v, _)| v == value))
        .collect();
    all.extend(options.iter().cloned());
    qualifier(&all)
}

/// Whether an option's value belongs to `account` (`account:...`).
pub fn of_account(value: &str, account: &str) -> bool {
    value
        .strip_prefix(account)
        .is_some_and(|rest| rest.starts_with(':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|t| t.to_string()).collect()
    }

    // R2 a, R14: the value is what the sync writes; the mark is only in the text.
    #[test]
    fn group_controlled_tags_are_marked_in_the_text_only() {
        let list = tags(&["Teams:Worship", "Skills:Vocals", "Odd:a,b"]);
        let mapped = BTreeSet::from(["Teams:Worship".to_string()]);
        let one = [AccountTags {
            account: "Main",
            tags: &list,
            mapped: &mapped,
        }];
        let choices = build(&one, false);
        assert_eq!(
            qualifier(&choices.options),
            "Main:Skills:Vocals^Skills:Vocals,Main:Teams:Worship^Teams:Worship *"
        );
        assert_eq!(choices.skipped, vec!["Main:Odd:a,b".to_string()]);
        let several = build(&one, true);
        assert_eq!(
            several.options[0],
            ("Main:Teams:Worship".into(), "Main:Teams:Worship *".into())
        );
        assert_eq!(parse(&qualifier(&choices.options)), {
            let mut o = choices.options.clone();
            o.sort();
            o
        });
    }

    // R3: refreshing one account keeps the other accounts' choices.
    #[test]
    fn merge_replaces_one_accounts_options() {
        let existing = "Main:Teams:Old^Teams:Old,North:Teams:Kids^North:Teams:Kids";
        let new = vec![("Main:Teams:New".to_string(), "Teams:New".to_string())];
        assert_eq!(
            merge(existing, |v| !of_account(v, "Main"), &new),
            "Main:Teams:New^Teams:New,North:Teams:Kids"
        );
        assert!(!of_account("Mainland:X:Y", "Main"));
    }
}
