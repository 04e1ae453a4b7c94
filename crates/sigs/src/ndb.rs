//! Body signature lines (`.ndb`) and their offsets.

use super::*;

/// ClamAV reads offset numbers with `atoi` after checking that they are digits: an empty
/// number is 0.
fn off_number(s: &str) -> Option<u64> {
    if s.is_empty() {
        Some(0)
    } else {
        number(s)
    }
}

/// Parses an offset field as ClamAV does (`cli_caloff`). `Ok(None)` for the form the engine
/// skips: `$n$` (macro groups).
pub fn parse_offset(s: &str) -> Result<Option<Offset>, ParseErrorKind> {
    let bad = || ParseErrorKind::Offset(s.to_string());
    if s == "*" {
        return Ok(Some(Offset::Any));
    }
    if s.len() > 64 {
        return Err(bad());
    }
    let (base, extra) = match s.split_once(',') {
        Some((b, e)) => (b, off_number(e).ok_or_else(bad)?),
        None => (s, 0),
    };
    let num = |t: &str| off_number(t).ok_or_else(bad);
    if let Some(n) = base.strip_prefix("EP+") {
        return Ok(Some(Offset::Ep {
            back: false,
            delta: num(n)?,
            extra,
        }));
    }
    if let Some(n) = base.strip_prefix("EP-") {
        return Ok(Some(Offset::Ep {
            back: true,
            delta: num(n)?,
            extra,
        }));
    }
    if let Some(rest) = base.strip_prefix('S') {
        if let Some(x) = rest.strip_prefix('E') {
            let index = u32::try_from(num(x)?).map_err(|_| bad())?;
            return Ok(Some(Offset::InSection { index, extra }));
        }
        if let Some(n) = rest.strip_prefix("L+") {
            return Ok(Some(Offset::LastSection {
                delta: num(n)?,
                extra,
            }));
        }
        let (x, n) = rest.split_once('+').ok_or_else(bad)?;
        if x.is_empty() || n.is_empty() {
            return Err(bad());
        }
        return Ok(Some(Offset::Section {
            index: u32::try_from(num(x)?).map_err(|_| bad())?,
            delta: num(n)?,
            extra,
        }));
    }
    if let Some(back) = base.strip_prefix("EOF-") {
        return Ok(Some(Offset::Eof {
            back: num(back)?,
            extra,
        }));
    }
    if base.starts_with("VI") {
        // ClamAV ignores what follows `VI`.
        return Ok(Some(Offset::VersionInfo));
    }
    if base.contains('$') {
        return Ok(None);
    }
    let start = number(base).ok_or_else(bad)?;
    Ok(Some(Offset::Abs { start, extra }))
}

/// [`parse_offset`], refusing executable-relative offsets unless `target` is an executable
/// type (ClamAV refuses the whole database then; here the line is malformed).
pub(crate) fn parse_offset_for(s: &str, target: u64) -> Result<Option<Offset>, ParseErrorKind> {
    let o = parse_offset(s)?;
    let exe_only = o.is_some_and(|o| o.is_executable());
    if exe_only && ![1, 6, 9].contains(&target) {
        return Err(ParseErrorKind::OffsetTarget {
            offset: s.to_string(),
            target,
        });
    }
    Ok(o)
}

/// Parses `Name:TargetType:Offset:HexSignature[:MinFL[:MaxFL]]`.
pub fn parse_body_line(line: &str) -> Result<Parsed<BodySig>, ParseErrorKind> {
    let mut tokens = Vec::new();
    Ok(match body_fields(line, &mut tokens)? {
        Parsed::Sig(b) => Parsed::Sig(b.to_sig()),
        Parsed::Skip(r) => Parsed::Skip(r),
    })
}

/// [`parse_body_line`], the pattern parsed into `tokens`.
pub(crate) fn body_fields<'a>(
    line: &'a str,
    tokens: &'a mut Vec<Token>,
) -> Result<Parsed<BodyRef<'a>>, ParseErrorKind> {
    let f = Fields::split(line, b':');
    if !(4..=6).contains(&f.len()) {
        return Err(ParseErrorKind::FieldCount {
            expected: "4 to 6",
            sep: ':',
            found: f.len(),
        });
    }
    let name = check_name_ref(f[0])?;
    let target = if f[1] == "*" {
        0
    } else {
        number(f[1]).ok_or_else(|| ParseErrorKind::Target(f[1].to_string()))?
    };
    if !level_ok(f.get(4).copied(), f.get(5).copied())? {
        return Ok(Parsed::Skip(SkipReason::Level));
    }
    let offset = parse_offset_for(f[2], target)?;
    parse_hex_into(f[3], tokens)?;
    if !SUPPORTED_TARGETS.contains(&target) {
        return Ok(Parsed::Skip(SkipReason::Target));
    }
    let Some(offset) = offset else {
        return Ok(Parsed::Skip(SkipReason::Offset));
    };
    Ok(Parsed::Sig(BodyRef {
        name,
        target: target as u32,
        offset,
        pattern: tokens,
    }))
}
