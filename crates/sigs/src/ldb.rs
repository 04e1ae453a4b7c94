//! Logical signature lines (`.ldb`): target block, expression, subsignatures.

use super::*;

pub(crate) fn parse_range(v: &str) -> Result<Range, ParseErrorKind> {
    let bad = || ParseErrorKind::Logical(format!("bad range {v:?}"));
    let (a, b) = match v.split_once('-') {
        Some((a, b)) => (number(a).ok_or_else(bad)?, number(b).ok_or_else(bad)?),
        None => {
            let n = number(v).ok_or_else(bad)?;
            (n, n)
        }
    };
    if a > b {
        return Err(bad());
    }
    Ok(Range { min: a, max: b })
}

/// Splits `s` at `sep` as ClamAV's tokenizer does: from field `skip` on, an unescaped `/`
/// toggles a "within a regular expression" state in which `sep` does not split.
fn split_pcre_aware(s: &str, sep: u8, skip: usize) -> Vec<&str> {
    let b = s.as_bytes();
    let (mut out, mut start, mut within) = (Vec::new(), 0, false);
    for i in 0..b.len() {
        if out.len() >= skip && b[i] == b'/' && (i == 0 || b[i - 1] != b'\\') {
            within = !within;
        } else if b[i] == sep && !within {
            out.push(&s[start..i]);
            start = i + 1;
        }
    }
    out.push(&s[start..]);
    out
}

/// Parses a PCRE subsignature, `[Offset:]Trigger/Pattern/[Flags]`, the `index`-th of its
/// logical signature (its trigger may only refer to earlier subsignatures).
fn parse_pcre(s: &str, target: u64, index: usize) -> Result<Parsed<SubSig>, ParseErrorKind> {
    let bad = |why: &str| ParseErrorKind::Logical(format!("PCRE subsignature {s:?}: {why}"));
    let parts = split_pcre_aware(s, b':', 0);
    let (off, sig) = match parts.as_slice() {
        [sig] => ("*", *sig),
        [off, sig] => (*off, *sig),
        _ => return Err(bad("more than one ':' outside the pattern")),
    };
    let (first, last) = match (sig.find('/'), sig.rfind('/')) {
        (Some(a), Some(b)) if a < b => (a, b),
        _ => return Err(bad("mismatched '/' delimiters")),
    };
    let (trigger, pattern, flags) = (&sig[..first], &sig[first + 1..last], &sig[last + 1..]);
    if trigger.is_empty() || pattern.is_empty() {
        return Err(bad("the trigger and the pattern can't be empty"));
    }
    let trigger = parse_expr(trigger)?;
    if trigger.max_id() as usize >= index {
        return Err(bad("its trigger must refer to earlier subsignatures only"));
    }
    let mut f = PcreFlags::default();
    for c in flags.chars() {
        match c {
            'i' => f.caseless = true,
            's' => f.dotall = true,
            'm' => f.multiline = true,
            'x' => f.extended = true,
            'A' => f.anchored = true,
            'E' => f.dollar_endonly = true,
            'U' => f.ungreedy = true,
            'g' => f.global = true,
            'r' => f.rolling = true,
            'e' => f.encompass = true,
            _ => return Err(bad(&format!("unknown flag {c:?}"))),
        }
    }
    let Some(offset) = parse_offset_for(off, target)? else {
        return Ok(Parsed::Skip(SkipReason::Offset));
    };
    if f.dollar_endonly {
        // PCRE2_DOLLAR_ENDONLY has no inline form for the engine to set.
        return Ok(Parsed::Skip(SkipReason::Pcre));
    }
    Ok(Parsed::Sig(SubSig {
        offset,
        pattern: HexPattern { tokens: Vec::new() },
        modifiers: Modifiers::default(),
        pcre: Some(Pcre {
            trigger,
            pattern: pattern.to_string(),
            flags: f,
        }),
        byte_cmp: None,
    }))
}

/// A number as C's `strtol(s, base 0)` reads a whole field: optional white space and sign,
/// then `0x` hexadecimal, `0` octal or decimal digits, to the end. An empty field is 0.
fn c_number(s: &str) -> Option<i64> {
    let t = s.trim_start();
    if t.is_empty() {
        return Some(0);
    }
    let (neg, t) = match t.as_bytes()[0] {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let v = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()?
    } else if t.len() > 1 && t.starts_with('0') {
        i64::from_str_radix(&t[1..], 8).ok()?
    } else {
        t.parse::<i64>().ok()?
    };
    Some(if neg { v.wrapping_neg() } else { v })
}

/// Parses a byte-compare subsignature, `N(>>offset#options#comparisons)`, as ClamAV's
/// `cli_bcomp_addpatt` does; every malformed form is an error (ClamAV refuses the database).
fn parse_byte_cmp(s: &str) -> Result<Parsed<SubSig>, ParseErrorKind> {
    let bad =
        |why: &str| ParseErrorKind::Logical(format!("byte-compare subsignature {s:?}: {why}"));
    let (n, rest) = s.split_once('(').ok_or_else(|| bad("no '('"))?;
    let subsig = n
        .trim()
        .parse::<u32>()
        .map_err(|_| bad("bad subsignature number"))?;
    if subsig > logical::MAX_SUBSIGS {
        return Err(bad("subsignature number over 64"));
    }
    let inner = rest
        .split_once(')')
        .map(|(a, _)| a)
        .ok_or_else(|| bad("no ')'"))?;
    let f: Vec<&str> = inner.split('#').collect();
    let [off, opts, cmps] = f.as_slice() else {
        return Err(bad("expected offset#options#comparisons"));
    };
    let offset = if off.is_empty() || off.starts_with('0') {
        0
    } else if let Some(n) = off.strip_prefix(">>") {
        c_number(n).ok_or_else(|| bad("bad offset"))?
    } else if let Some(n) = off.strip_prefix("<<") {
        c_number(n).ok_or_else(|| bad("bad offset"))?.wrapping_neg()
    } else {
        return Err(bad("the offset must be >>n or <<n"));
    };
    let digits = opts
        .find(|c: char| c.is_ascii_digit())
        .ok_or_else(|| bad("no length"))?;
    let (letters, len) = opts.split_at(digits);
    let mut base = CmpBase::None;
    let (mut little, mut exact) = (None, false);
    for c in letters.chars() {
        let b = match c {
            'h' => Some(CmpBase::Hex),
            'd' => Some(CmpBase::Dec),
            'a' => Some(CmpBase::Auto),
            'i' => Some(CmpBase::Int),
            'l' | 'b' => {
                let l = c == 'l';
                if little.is_some_and(|x| x != l) {
                    return Err(bad("both 'l' and 'b'"));
                }
                little = Some(l);
                None
            }
            'e' => {
                exact = true;
                None
            }
            _ => return Err(bad(&format!("unknown option {c:?}"))),
        };
        if let Some(b) = b {
            if base != CmpBase::None && base != b {
                return Err(bad("more than one base"));
            }
            base = b;
        }
    }
    if base == CmpBase::Dec {
        if little == Some(true) {
            return Err(bad("decimal text can't be little-endian"));
        }
        little = Some(false);
    }
    let len = c_number(len)
        .and_then(|n| u64::try_from(n).ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| bad("bad length"))?;
    if (base == CmpBase::Int && ![1, 2, 4, 8].contains(&len)) || (base == CmpBase::Hex && len > 18)
    {
        return Err(bad("length out of range for its base"));
    }
    let parts: Vec<&str> = cmps.split(',').collect();
    if parts.len() > 2 {
        return Err(bad("at most two comparisons"));
    }
    let mut out = Vec::with_capacity(parts.len());
    for c in parts {
        let op = match c.as_bytes().first() {
            Some(b'<') => CmpOp::Lt,
            Some(b'>') => CmpOp::Gt,
            Some(b'=') => CmpOp::Eq,
            _ => return Err(bad("a comparison is <v, >v or =v")),
        };
        out.push((
            op,
            c_number(&c[1..]).ok_or_else(|| bad("bad comparison value"))?,
        ));
    }
    Ok(Parsed::Sig(SubSig {
        offset: Offset::Any,
        pattern: HexPattern { tokens: Vec::new() },
        modifiers: Modifiers::default(),
        pcre: None,
        byte_cmp: Some(ByteCmp {
            subsig,
            offset,
            base,
            little,
            exact,
            len,
            cmps: out,
        }),
    }))
}

/// Parses a subsignature, the `index`-th of its logical signature:
/// `[Offset:]HexSignature[::modifiers]`, or a PCRE one.
pub(crate) fn parse_subsig(
    s: &str,
    target: u64,
    index: usize,
) -> Result<Parsed<SubSig>, ParseErrorKind> {
    // Macro: ${..}N$; PCRE: Trigger/regex/flags; byte compare: N(...); fuzzy hash: fuzzy_img#..
    if s.starts_with('$') {
        return Ok(Parsed::Skip(SkipReason::Macro));
    }
    if s.contains('/') {
        return parse_pcre(s, target, index);
    }
    if s.starts_with("fuzzy_img#") {
        return Ok(Parsed::Skip(SkipReason::Fuzzy));
    }
    if s.starts_with('$') {
        return Ok(Parsed::Skip(SkipReason::Macro));
    }
    if s.contains('(') && s.find('#') != s.rfind('#') {
        return parse_byte_cmp(s);
    }
    let (body, mods) = match s.split_once("::") {
        Some((b, m)) => (b, Some(m)),
        None => (s, None),
    };
    let mut modifiers = Modifiers::default();
    if let Some(m) = mods {
        for c in m.chars() {
            match c {
                'i' => modifiers.nocase = true,
                'w' => modifiers.wide = true,
                'f' => modifiers.fullword = true,
                'a' => modifiers.ascii = true,
                _ => {
                    return Err(ParseErrorKind::Logical(format!(
                        "unknown subsignature modifier {c:?}"
                    )))
                }
            }
        }
    }
    let (offset, hex) = match body.rsplit_once(':') {
        Some((off, hex)) => (parse_offset_for(off, target)?, hex),
        None => (Some(Offset::Any), body),
    };
    let pattern = parse_hex(hex)?;
    let Some(offset) = offset else {
        return Ok(Parsed::Skip(SkipReason::Offset));
    };
    Ok(Parsed::Sig(SubSig {
        offset,
        pattern,
        modifiers,
        pcre: None,
        byte_cmp: None,
    }))
}

/// Parses `Name;TargetDescriptionBlock;LogicalExpression;Subsig0;Subsig1;...`.
pub fn parse_logical_line(line: &str) -> Result<Parsed<LogicalSig>, ParseErrorKind> {
    let f: Vec<&str> = split_pcre_aware(line, b';', 2);
    if f.len() < 4 {
        return Err(ParseErrorKind::FieldCount {
            expected: "at least 4",
            sep: ';',
            found: f.len(),
        });
    }
    let name = check_name(f[0])?;
    let mut target = None;
    let mut file_size = None;
    let mut entry_point = None;
    let mut sections = None;
    let mut container = None;
    let mut intermediates = None;
    let mut skip = None;
    let mut engine_min = None;
    let mut new_attribute = false;
    for item in f[1].split(',') {
        let (k, v) = item
            .split_once(':')
            .ok_or_else(|| ParseErrorKind::Logical(format!("bad target block item {item:?}")))?;
        match k {
            "Target" => {
                target = Some(number(v).ok_or_else(|| ParseErrorKind::Target(v.to_string()))?)
            }
            "Engine" => {
                let r = parse_range(v)?;
                engine_min = Some(r.min);
                let fl = FUNCTIONALITY_LEVEL as u64;
                if fl < r.min || fl > r.max {
                    skip.get_or_insert(SkipReason::Level);
                }
            }
            "FileSize" => {
                file_size = Some(parse_range(v)?);
                new_attribute = true;
            }
            "EntryPoint" => {
                entry_point = Some(parse_range(v)?);
                new_attribute = true;
            }
            "NumberOfSections" => {
                sections = Some(parse_range(v)?);
                new_attribute = true;
            }
            "Container" => {
                new_attribute = true;
                if CLAMAV_TYPES.contains(&v) {
                    container = Some(v.to_string());
                } else {
                    // ClamAV skips a signature naming a type it does not know.
                    skip.get_or_insert(SkipReason::Attribute);
                }
            }
            "Intermediates" => {
                new_attribute = true;
                let list: Vec<String> = v.split('>').map(str::to_string).collect();
                if list.len() > 16 {
                    return Err(ParseErrorKind::Logical(format!(
                        "Intermediates lists {} types, at most 16",
                        list.len()
                    )));
                }
                if list.iter().all(|t| CLAMAV_TYPES.contains(&t.as_str())) {
                    intermediates = Some(list);
                } else {
                    skip.get_or_insert(SkipReason::Attribute);
                }
            }
            "IconGroup1" | "IconGroup2" | "HandlerType" => {
                new_attribute = true;
                skip.get_or_insert(SkipReason::Attribute);
            }
            _ => {
                return Err(ParseErrorKind::Logical(format!(
                    "unknown target block key {k:?}"
                )))
            }
        }
    }
    let target = target.ok_or_else(|| ParseErrorKind::Logical("missing Target".into()))?;
    if new_attribute && engine_min.is_none_or(|m| m < 51) {
        return Err(ParseErrorKind::Logical(
            "target block attributes other than Target need Engine with a minimum of at least 51"
                .into(),
        ));
    }
    if (entry_point.is_some() || sections.is_some()) && ![1, 6, 9].contains(&target) {
        return Err(ParseErrorKind::Logical(format!(
            "EntryPoint and NumberOfSections need target 1 (PE), 6 (ELF) or 9 (Mach-O), not {target}"
        )));
    }
    let expr = parse_expr(f[2])?;
    let n_sub = f.len() - 3;
    if n_sub as u32 > logical::MAX_SUBSIGS {
        return Err(ParseErrorKind::Logical(format!(
            "{n_sub} subsignatures, at most 64 allowed"
        )));
    }
    if expr.max_id() as usize + 1 != n_sub {
        // ClamAV refuses both: a reference past the end, and subsignatures nothing uses.
        return Err(ParseErrorKind::Logical(format!(
            "the expression's highest subsignature is {} but {n_sub} are given",
            expr.max_id()
        )));
    }
    if skip == Some(SkipReason::Level) {
        return Ok(Parsed::Skip(SkipReason::Level));
    }
    let mut subsigs = Vec::with_capacity(n_sub);
    for (i, s) in f[3..].iter().enumerate() {
        match parse_subsig(s, target, i)? {
            Parsed::Sig(sub) => subsigs.push(sub),
            Parsed::Skip(r) => {
                skip.get_or_insert(r);
            }
        }
    }
    if !SUPPORTED_TARGETS.contains(&target) {
        skip.get_or_insert(SkipReason::Target);
    }
    if let Some(r) = skip {
        return Ok(Parsed::Skip(r));
    }
    Ok(Parsed::Sig(LogicalSig {
        name,
        target: target as u32,
        file_size,
        entry_point,
        sections,
        container,
        intermediates,
        expr,
        subsigs,
    }))
}
