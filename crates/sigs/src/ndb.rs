//! Body signature lines (`.ndb`) and their offsets.

use super::*;

/// Parses an offset field. `Ok(None)` for executable-relative offsets the engine skips.
pub fn parse_offset(s: &str) -> Result<Option<Offset>, ParseErrorKind> {
    let bad = || ParseErrorKind::Offset(s.to_string());
    if s == "*" {
        return Ok(Some(Offset::Any));
    }
    let (base, extra) = match s.split_once(',') {
        Some((b, e)) => (b, number(e).ok_or_else(bad)?),
        None => (s, 0),
    };
    if let Some(back) = base.strip_prefix("EOF-") {
        return Ok(Some(Offset::Eof {
            back: number(back).ok_or_else(bad)?,
            extra,
        }));
    }
    if base.starts_with("EP+")
        || base.starts_with("EP-")
        || base.starts_with("SL+")
        || base.starts_with("SE")
        || base.starts_with("VI")
        || base.starts_with('$')
        || (base.starts_with('S') && base[1..].contains('+'))
    {
        return Ok(None);
    }
    let start = number(base).ok_or_else(bad)?;
    Ok(Some(Offset::Abs { start, extra }))
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
    let offset = parse_offset(f[2])?;
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
