//! Ignore lines (`.ign`/`.ign2`): names of signatures switched off.

use super::*;

/// Parses an `.ign2` line: `Name` or `Name:md5-of-line`; returns the name.
pub fn parse_ignore_line(line: &str) -> String {
    ignore_name(line).to_string()
}

pub(crate) fn ignore_name(line: &str) -> &str {
    // .ign lines may be `db:line:Name`; .ign2 lines are `Name[:md5]`.
    let f = Fields::split(line, b':');
    match f.len() {
        3 if number(f[1]).is_some() => f[2],
        _ => f[0],
    }
}
