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
            let shown = if several {
                value.as_str()
            } else {
                tag.as_str()
            };
            let mut text = html_encoded(shown);
            if account.mapped.contains(tag) {
                text.push_str(GROUP_MARK);
            }
            choices.options.push((value, text));
        }
    }
    choices
}

/// `text` as HTML shows it literally. Rock renders an option's text as HTML (the check box
/// list on a person's profile, the attribute's value on the page), so a PCO tag named
/// `<img src=x onerror=...>` would run in a staff member's browser (issue 24 item 19). The
/// value stays as PCO names the tag: it is what the sync reads back.
pub fn html_encoded(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => encoded.push_str("&amp;"),
            '<' => encoded.push_str("&lt;"),
            '>' => encoded.push_str("&gt;"),
            '"' => encoded.push_str("&quot;"),
            '\'' => encoded.push_str("&#39;"),
            other => encoded.push(other),
        }
    }
    encoded
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

    // Issue 24 item 19 (R2 a, R36): Rock renders an option's text as HTML, so a tag's name is
    // encoded there; the value, which the sync reads back, is the tag as PCO names it.
    #[test]
    fn tag_names_are_html_encoded_in_the_text_only_issue_24_item_19() {
        let list = tags(&[
            "Teams:<img src=x onerror=alert(1)>",
            "Food:Fish & \"Chips\" 'n'",
        ]);
        let mapped = BTreeSet::new();
        let one = [AccountTags {
            account: "Main",
            tags: &list,
            mapped: &mapped,
        }];
        for several in [false, true] {
            let choices = build(&one, several);
            assert!(choices.skipped.is_empty());
            for (value, text) in &choices.options {
                assert!(value.starts_with("Main:"), "{value}");
                assert!(!text.contains(['<', '>', '"', '\'']), "{text}");
            }
            let texts: Vec<&str> = choices.options.iter().map(|(_, t)| t.as_str()).collect();
            let prefix = if several { "Main:" } else { "" };
            assert_eq!(
                texts,
                [
                    format!("{prefix}Teams:&lt;img src=x onerror=alert(1)&gt;"),
                    format!("{prefix}Food:Fish &amp; &quot;Chips&quot; &#39;n&#39;"),
                ]
            );
            // What Rock reads back keeps the tag's own name as the value.
            let read = parse(&qualifier(&choices.options));
            assert!(
                read.iter()
                    .any(|(v, _)| v == "Main:Teams:<img src=x onerror=alert(1)>")
            );
        }
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
