//! Python `str()` of JSON context values, and key lookup in raw JSON objects.
//!
//! The journal keeps each entry's `context` as the raw text of a JSON object. A query's
//! `context_filters` pair `(key, wanted)` holds when the Python reference's
//! `str(context.get(key))` equals `wanted` (docs/DESIGN.md, "The string form of context values"). This module reproduces that
//! string form directly from the raw JSON text, without building a value tree:
//!
//! - missing key and `null` print `None`; `true`/`false` print `True`/`False`;
//! - a string prints as its decoded text, with no quotes and no escaping;
//! - an integer (no fraction, no exponent) prints its exact decimal digits, whatever its size,
//!   without leading zeros (`-0` prints `0`), like a Python `int`;
//! - any other number is a Python `float`: it is rounded to binary64 and printed as Python's
//!   `repr` (shortest round-trip digits, positional when the decimal exponent `e` satisfies
//!   `-4 <= e < 16`, with a mandatory fractional part, otherwise `d[.ddd]e+XX`; an exact tie
//!   between two shortest candidates takes the even last digit, as Python's dtoa does, where
//!   Rust's formatter rounds up); numbers too large for binary64 print `inf` / `-inf`, as
//!   Python's `float()` would give;
//! - arrays and objects print as Python `list` / `dict` `repr`, strings inside them as Python
//!   string literals. As with `json.loads`, a key repeated in one object keeps the position of
//!   its first occurrence and the value of its last one.
//!
//! # Printable characters (approximation)
//!
//! Python escapes the characters that are not printable, i.e. those in the Unicode general
//! categories Cc, Cf, Cs, Co, Cn, Zl, Zp and Zs (except the ASCII space). Without a Unicode
//! database this module classifies:
//!
//! - Cc, Zs, Zl, Zp, Co (private use): exactly;
//! - Cf: the format characters of Unicode 15 (a fixed list);
//! - Cs: lone surrogates written as `\uD8xx` escapes in the JSON text are kept in `repr` output
//!   (printed `\ud8xx`, as Python does);
//! - Cn (unassigned): only the noncharacters (U+FDD0..U+FDEF and every U+xFFFE / U+xFFFF), the
//!   whole of planes 4 to 13, and the unassigned parts of plane 14. **Documented divergence:**
//!   any other unassigned code point (in the BMP and planes 1 to 3) is treated as printable and
//!   printed raw, where Python would escape it. Which code points are unassigned also depends
//!   on the reference's Python version (its Unicode database), so no fixed table could be exact.
//!
//! Checked against CPython 3.11 (Unicode 14) over every code point: all assigned code points are
//! classified as Python does; the only differences are unassigned (Cn) code points.
//!
//! # Lone surrogates at the top level
//!
//! A top-level string value containing a lone surrogate escape (`"\ud800"`) cannot be held in
//! a Rust `String`; [`python_str`] replaces such code points with U+FFFD. [`matches()`] compares
//! the decoded code points instead, so such a value never matches (a `&str` filter value cannot
//! contain a surrogate), exactly as in Python.

use std::collections::HashMap;

/// Name of the JSON kind of `text` (object, array, string, number, ...), for error messages.
///
/// Returns one of `"an object"`, `"an array"`, `"a string"`, `"a boolean"`, `"null"` and
/// `"a number"`, judged from the first non-whitespace character.
#[must_use]
pub fn json_kind(text: &str) -> &'static str {
    let b = text.as_bytes();
    match b.get(skip_ws(b, 0)) {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// The raw JSON text of the value of `key` in the JSON object `context`, or `None` when absent.
///
/// `context` must be the text of a valid JSON object (whitespace is allowed wherever JSON allows
/// it). Keys are compared after decoding their escapes, so the JSON key `"caf\u00e9"` matches
/// the Rust string `"caf\u{e9}"`. When a key appears several times, the last occurrence wins,
/// like Python's `json.loads`. The scan skips over nested values without building a tree and
/// never allocates. On text that is not a JSON object it returns `None` or an unspecified
/// slice, but never panics.
pub fn lookup<'a>(context: &'a str, key: &str) -> Option<&'a str> {
    let b = context.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    let mut found = None;
    loop {
        i = skip_ws(b, i);
        if b.get(i) != Some(&b'"') {
            // `}` (end or empty object) or malformed text.
            return found;
        }
        let (key_end, escaped) = skip_string(b, i);
        let key_range = i + 1..key_end.saturating_sub(1).max(i + 1);
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return found;
        }
        i = skip_ws(b, i + 1);
        let value_end = skip_value(b, i);
        let equal = if escaped {
            let raw_key = context.get(key_range).unwrap_or("");
            Decoder::new(raw_key).eq(key.chars().map(u32::from))
        } else {
            b.get(key_range) == Some(key.as_bytes())
        };
        if equal {
            found = context.get(i..value_end);
        }
        i = skip_ws(b, value_end);
        if b.get(i) != Some(&b',') {
            return found;
        }
        i += 1;
    }
}

/// Python's `str()` of a JSON value given as raw JSON text.
///
/// For a string this is the decoded string itself; for the other kinds see the module
/// documentation (`None`, `True`, exact integers, float `repr`, list and dict `repr`).
/// Surrounding JSON whitespace is ignored.
#[must_use]
pub fn python_str(raw: &str) -> String {
    let raw = trim_ws(raw);
    match raw.as_bytes().first() {
        Some(b'"') => {
            let inner = string_content(raw);
            if !inner.contains('\\') {
                return inner.to_string();
            }
            Decoder::new(inner)
                .map(|c| char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect()
        }
        Some(b'{' | b'[') => {
            let mut out = String::with_capacity(raw.len() + 8);
            write_repr(&mut out, raw);
            out
        }
        _ => {
            let mut out = String::new();
            write_scalar(&mut out, raw);
            out
        }
    }
}

/// Whether Python's `str(context.get(key))` equals `wanted`.
///
/// A missing key prints `None`. This is `python_str` of [`lookup`], with allocation-free fast
/// paths for strings (compared by decoded code points), integers, booleans and `null`.
pub fn matches(context: &str, key: &str, wanted: &str) -> bool {
    let Some(raw) = lookup(context, key) else {
        return wanted == "None";
    };
    let raw = trim_ws(raw);
    match raw.as_bytes().first() {
        Some(b'"') => {
            let inner = string_content(raw);
            if inner.contains('\\') {
                Decoder::new(inner).eq(wanted.chars().map(u32::from))
            } else {
                inner == wanted
            }
        }
        Some(b'n') => wanted == "None",
        Some(b't') => wanted == "True",
        Some(b'f') => wanted == "False",
        Some(b'{' | b'[') => python_str(raw) == wanted,
        _ => match canonical_int(raw) {
            Some((negative, digits)) => match wanted.strip_prefix('-') {
                Some(rest) => negative && rest == digits,
                None => !negative && wanted == digits,
            },
            None => python_str(raw) == wanted,
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Scanning

/// Byte classes for the scanners.
const WS: u8 = 1;
/// Ends a number or literal: whitespace, `,`, `}` or `]`.
const END: u8 = 2;
/// Interesting inside a container: `"`, `{`, `[`, `}` or `]`.
const STRUCTURAL: u8 = 4;

static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b' ' as usize] = WS | END;
    t[b'\t' as usize] = WS | END;
    t[b'\n' as usize] = WS | END;
    t[b'\r' as usize] = WS | END;
    t[b',' as usize] = END;
    t[b'}' as usize] = END | STRUCTURAL;
    t[b']' as usize] = END | STRUCTURAL;
    t[b'{' as usize] = STRUCTURAL;
    t[b'[' as usize] = STRUCTURAL;
    t[b'"' as usize] = STRUCTURAL;
    t
};

fn is_ws(c: u8) -> bool {
    CLASS[usize::from(c)] & WS != 0
}

#[inline]
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(&c) = b.get(i)
        && is_ws(c)
    {
        i += 1;
    }
    i
}

fn trim_ws(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_ascii() && is_ws(c as u8))
}

/// `b[i]` is an opening quote: the index just past the closing quote, and whether the string
/// has escapes. Unterminated strings end at `b.len()`.
#[inline]
fn skip_string(b: &[u8], i: usize) -> (usize, bool) {
    let mut j = i + 1;
    let mut escaped = false;
    loop {
        j = find_quote_or_backslash(b, j);
        match b.get(j) {
            Some(b'"') => return (j + 1, escaped),
            Some(_) => {
                escaped = true;
                j += 2;
            }
            None => return (b.len(), escaped),
        }
    }
}

/// The index of the first `"` or `\` in `b[j..]`, or `b.len()` (or more) when there is none.
/// Looks at eight bytes at a time.
fn find_quote_or_backslash(b: &[u8], mut j: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = b.get(j..j + 8) {
        let x = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        let quote = x ^ (ONES * u64::from(b'"'));
        let backslash = x ^ (ONES * u64::from(b'\\'));
        // The lowest set high bit marks the first zero byte of `quote` or `backslash` exactly
        // (false positives can only appear above a true zero byte).
        let found = ((quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash))
            & HIGHS;
        if found != 0 {
            return j + (found.trailing_zeros() / 8) as usize;
        }
        j += 8;
    }
    while j < b.len() && b[j] != b'"' && b[j] != b'\\' {
        j += 1;
    }
    j
}

/// The index just past the JSON value starting at `b[i]`.
fn skip_value(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(b'"') => skip_string(b, i).0,
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                while let Some(&c) = b.get(j)
                    && CLASS[usize::from(c)] & STRUCTURAL == 0
                {
                    j += 1;
                }
                match b.get(j) {
                    Some(b'"') => {
                        j = skip_string(b, j).0;
                        continue;
                    }
                    Some(b'{' | b'[') => depth += 1,
                    Some(_) => {
                        depth -= 1;
                        if depth == 0 {
                            return j + 1;
                        }
                    }
                    None => return b.len(),
                }
                j += 1;
            }
        }
        Some(_) => {
            let mut j = i;
            while let Some(&c) = b.get(j)
                && CLASS[usize::from(c)] & END == 0
            {
                j += 1;
            }
            j
        }
        None => i,
    }
}

/// The text between the quotes of the raw JSON string `raw` (which starts with `"`).
fn string_content(raw: &str) -> &str {
    let end = skip_string(raw.as_bytes(), 0).0;
    let end = if raw.as_bytes().get(end.wrapping_sub(1)) == Some(&b'"') && end >= 2 {
        end - 1
    } else {
        end
    };
    raw.get(1..end).unwrap_or("")
}

/// Decodes the content of a JSON string into code points. Lone surrogates (from `\uD800`-style
/// escapes not forming a pair) are yielded as they are, so the values may not be `char`s.
struct Decoder<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Decoder<'a> {
    fn new(s: &'a str) -> Self {
        Decoder { s, pos: 0 }
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let h = self.s.get(at..at + 4)?;
        if h.bytes().all(|c| c.is_ascii_hexdigit()) {
            u32::from_str_radix(h, 16).ok()
        } else {
            None
        }
    }
}

impl Iterator for Decoder<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let rest = self.s.get(self.pos..)?;
        let c = rest.chars().next()?;
        if c != '\\' {
            self.pos += c.len_utf8();
            return Some(u32::from(c));
        }
        let Some(e) = rest[1..].chars().next() else {
            self.pos += 1;
            return Some(u32::from('\\'));
        };
        self.pos += 1 + e.len_utf8();
        let simple = match e {
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => {
                let Some(unit) = self.hex4(self.pos) else {
                    return Some(u32::from('u'));
                };
                self.pos += 4;
                if (0xD800..0xDC00).contains(&unit)
                    && self.s.as_bytes().get(self.pos..self.pos + 2) == Some(b"\\u")
                    && let Some(low) = self.hex4(self.pos + 2)
                    && (0xDC00..0xE000).contains(&low)
                {
                    self.pos += 6;
                    return Some(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00));
                }
                return Some(unit);
            }
            other => other, // `"`, `\`, `/` (and anything invalid, taken literally)
        };
        Some(u32::from(simple))
    }
}

// ---------------------------------------------------------------------------------------------
// Scalars

/// For an integer literal (`-?digits`): whether it is negative, and its digits without leading
/// zeros (`"0"` for zero, which is never negative, as Python's `int("-0")` is `0`).
fn canonical_int(raw: &str) -> Option<(bool, &str)> {
    let (negative, digits) = match raw.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, raw),
    };
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let trimmed = digits.trim_start_matches('0');
    if trimmed.is_empty() {
        Some((false, "0"))
    } else {
        Some((negative, trimmed))
    }
}

/// Writes `str()` of a non-container, non-string JSON value.
fn write_scalar(out: &mut String, raw: &str) {
    match raw {
        "null" => out.push_str("None"),
        "true" => out.push_str("True"),
        "false" => out.push_str("False"),
        _ => {
            if let Some((negative, digits)) = canonical_int(raw) {
                if negative {
                    out.push('-');
                }
                out.push_str(digits);
            } else {
                // Anything else is a float literal for Python (JSON text is validated).
                write_float(out, raw.parse::<f64>().unwrap_or(f64::NAN));
            }
        }
    }
}

/// Writes Python's `repr` of a float.
fn write_float(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("nan");
        return;
    }
    if f.is_infinite() {
        out.push_str(if f < 0.0 { "-inf" } else { "inf" });
        return;
    }
    if f.is_sign_negative() {
        out.push('-');
    }
    let (digits, exp) = shortest_digits(f.abs());
    // The digits are ASCII.
    let digits = std::str::from_utf8(&digits).unwrap_or("0");
    if (-4..16).contains(&exp) {
        if exp >= 0 {
            let int_len = usize::try_from(exp).expect("0 <= exp < 16") + 1;
            if digits.len() > int_len {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            } else {
                out.push_str(digits);
                out.extend(std::iter::repeat_n('0', int_len - digits.len()));
                out.push_str(".0");
            }
        } else {
            out.push_str("0.");
            let zeros = usize::try_from(-exp - 1).expect("-4 <= exp < 0");
            out.extend(std::iter::repeat_n('0', zeros));
            out.push_str(digits);
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let sign = if exp < 0 { '-' } else { '+' };
        out.push_str(&format!("e{sign}{:02}", exp.unsigned_abs()));
    }
}

/// The shortest digits that read back as the finite, non-negative `f`, without trailing zeros
/// (`"0"` for zero), and the decimal exponent of the first digit, chosen as Python does.
fn shortest_digits(f: f64) -> (Vec<u8>, i32) {
    // `{:e}` gives the shortest round-trip digits: `1.2345678901234568e17`, `0e0`, `5e-324`.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    while digits.len() > 1 && digits.last() == Some(&b'0') {
        digits.pop();
    }
    if digits.is_empty() {
        digits.push(b'0');
    }
    break_tie_to_even(f, &mut digits, exp);
    (digits, exp)
}

/// When `f` lies exactly halfway between two shortest candidates (`901629076986348.25` between
/// `...348.2` and `...348.3`), Rust picks the upper one, but Python (David Gay's dtoa) picks the
/// one with an even last digit. Rewrites `digits` to Python's choice.
fn break_tie_to_even(f: f64, digits: &mut [u8], exp: i32) {
    let n = digits.len();
    let last = digits[n - 1];
    if (last - b'0').is_multiple_of(2) || f == 0.0 {
        return;
    }
    // f = m * 2^q exactly, with m odd.
    let bits = f.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1 << 52) - 1);
    let (m, q) = if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | 1 << 52, biased - 1075)
    };
    let q = q + m.trailing_zeros() as i32;
    // A tie means f = (10 T + 5) 10^k, with T the n-digit candidate below and k = exp - n. Then
    // k = q: for q < 0 the exact expansion of f ends with a 5 at 10^q; q >= 0 would need
    // m 2^q = (2T + 1) 5^(k+1) 2^k, so q = k, and both candidates lie 5 * 10^k away from f,
    // more than half an ulp (at most 2^(k-1)), so they would not read back as f.
    let k = exp - i32::try_from(n).expect("at most 17 digits");
    if q != k || q >= 0 {
        return;
    }
    // f has exactly n + 1 significant digits, so this formatting (one digit more) is exact.
    let precision = n + 1;
    let exact = format!("{:.*e}", precision, f);
    let Some((mantissa, exact_exp)) = exact.split_once('e') else {
        return;
    };
    if exact_exp.parse() != Ok(exp) {
        return;
    }
    let ed: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    match ed.get(n..) {
        Some([b'5', rest @ ..]) if rest.iter().all(|&c| c == b'0') => {}
        _ => return,
    }
    if ed[..n] == digits[..] {
        // f = S + 1/2: the even candidate is S + 1 (no carry: a carry would give a shorter S).
        if last != b'9' {
            digits[n - 1] += 1;
        }
    } else if ed[..n - 1] == digits[..n - 1] && ed[n - 1] + 1 == last {
        // f = S - 1/2: the even candidate is S - 1.
        digits[n - 1] -= 1;
    }
}

// ---------------------------------------------------------------------------------------------
// Containers

/// An open container while writing a `repr`.
struct Frame {
    object: bool,
    /// Offset in the output just after the opening bracket.
    start: usize,
    /// For objects: per member, the output offsets of its key repr and its value text.
    members: Vec<Member>,
}

#[derive(Clone, Copy)]
struct Member {
    key_start: usize,
    key_end: usize,
    value_end: usize,
}

/// Writes Python's `repr` of the JSON value `raw`, in one iterative pass (no recursion, so deep
/// nesting cannot overflow the stack). Malformed text stops the output early, without panics.
fn write_repr(out: &mut String, raw: &str) {
    let b = raw.as_bytes();
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    'value: loop {
        // A value starts at `i`.
        i = skip_ws(b, i);
        match b.get(i) {
            Some(&open @ (b'{' | b'[')) => {
                let object = open == b'{';
                out.push(open as char);
                i = skip_ws(b, i + 1);
                if b.get(i) == Some(if object { &b'}' } else { &b']' }) {
                    out.push(if object { '}' } else { ']' });
                    i += 1;
                } else {
                    stack.push(Frame {
                        object,
                        start: out.len(),
                        members: Vec::new(),
                    });
                    if object && !write_key(out, raw, &mut i, &mut stack) {
                        return;
                    }
                    continue 'value;
                }
            }
            Some(b'"') => {
                let end = skip_string(b, i).0;
                write_str_repr(out, string_content(&raw[i..end]));
                i = end;
            }
            Some(_) => {
                let end = skip_value(b, i);
                write_scalar(out, &raw[i..end]);
                i = end;
            }
            None => return,
        }
        // After a value: close containers until one continues with another member.
        loop {
            let Some(top) = stack.last_mut() else { return };
            if top.object
                && let Some(m) = top.members.last_mut()
            {
                m.value_end = out.len();
            }
            i = skip_ws(b, i);
            match b.get(i) {
                Some(b',') => {
                    i += 1;
                    out.push_str(", ");
                    if top.object && !write_key(out, raw, &mut i, &mut stack) {
                        return;
                    }
                    continue 'value;
                }
                Some(b'}' | b']') => {
                    i += 1;
                    let frame = stack.pop().expect("stack is not empty");
                    if frame.object {
                        dedup_members(out, &frame);
                        out.push('}');
                    } else {
                        out.push(']');
                    }
                }
                _ => return,
            }
        }
    }
}

/// Writes the key repr and `": "` of the object member starting at `b[*i]` and records it in
/// the top frame. Returns false on malformed text.
fn write_key(out: &mut String, raw: &str, i: &mut usize, stack: &mut [Frame]) -> bool {
    let b = raw.as_bytes();
    *i = skip_ws(b, *i);
    if b.get(*i) != Some(&b'"') {
        return false;
    }
    let end = skip_string(b, *i).0;
    let key_start = out.len();
    write_str_repr(out, string_content(&raw[*i..end]));
    let key_end = out.len();
    *i = skip_ws(b, end);
    if b.get(*i) != Some(&b':') {
        return false;
    }
    *i += 1;
    out.push_str(": ");
    if let Some(top) = stack.last_mut() {
        top.members.push(Member {
            key_start,
            key_end,
            value_end: key_end + 2,
        });
    }
    true
}

/// Rewrites a just-closed object's members when a key repeats: like a Python dict built by
/// `json.loads`, a key keeps the position of its first occurrence and takes its last value.
/// Keys are identified by their repr, which is injective.
fn dedup_members(out: &mut String, frame: &Frame) {
    let members = &frame.members;
    if members.len() < 2 {
        return;
    }
    let key = |m: &Member| &out[m.key_start..m.key_end];
    // Per kept key, in first-occurrence order: (first member, member giving the value).
    let mut order: Vec<(usize, usize)> = Vec::with_capacity(members.len());
    let mut duplicates = false;
    if members.len() <= 16 {
        for (n, m) in members.iter().enumerate() {
            match order
                .iter_mut()
                .find(|(first, _)| key(&members[*first]) == key(m))
            {
                Some((_, winner)) => {
                    *winner = n;
                    duplicates = true;
                }
                None => order.push((n, n)),
            }
        }
    } else {
        let mut seen: HashMap<&str, usize> = HashMap::with_capacity(members.len());
        for (n, m) in members.iter().enumerate() {
            match seen.get(key(m)) {
                Some(&slot) => {
                    order[slot].1 = n;
                    duplicates = true;
                }
                None => {
                    seen.insert(key(m), order.len());
                    order.push((n, n));
                }
            }
        }
    }
    if !duplicates {
        return;
    }
    let mut rebuilt = String::with_capacity(out.len() - frame.start);
    for (pos, &(first, winner)) in order.iter().enumerate() {
        if pos > 0 {
            rebuilt.push_str(", ");
        }
        rebuilt.push_str(key(&members[first]));
        let w = members[winner];
        rebuilt.push_str(&out[w.key_end..w.value_end]);
    }
    out.truncate(frame.start);
    out.push_str(&rebuilt);
}

/// Writes Python's `repr` of the string whose JSON-escaped content is `content`.
fn write_str_repr(out: &mut String, content: &str) {
    let escaped = content.contains('\\');
    let (single, double) = if escaped {
        Decoder::new(content).fold((false, false), |(s, d), c| {
            (s || c == u32::from('\''), d || c == u32::from('"'))
        })
    } else {
        (content.contains('\''), false)
    };
    let quote = if single && !double { '"' } else { '\'' };
    out.push(quote);
    if !escaped
        && !content
            .bytes()
            .any(|c| c < 0x20 || c == 0x7f || c == b'\'' || c >= 0x80)
    {
        out.push_str(content);
    } else {
        for c in Decoder::new(content) {
            write_repr_char(out, c, quote);
        }
    }
    out.push(quote);
}

fn write_repr_char(out: &mut String, c: u32, quote: char) {
    match char::from_u32(c) {
        Some(ch) if ch == quote || ch == '\\' => {
            out.push('\\');
            out.push(ch);
        }
        Some('\t') => out.push_str("\\t"),
        Some('\n') => out.push_str("\\n"),
        Some('\r') => out.push_str("\\r"),
        Some(ch) if is_printable(ch) => out.push(ch),
        _ => {
            let text = if c < 0x100 {
                format!("\\x{c:02x}")
            } else if c < 0x10000 {
                format!("\\u{c:04x}")
            } else {
                format!("\\U{c:08x}")
            };
            out.push_str(&text);
        }
    }
}

/// Python's `str.isprintable` for one character, approximated as documented in the module
/// documentation (exact except for unassigned code points outside the listed ranges).
fn is_printable(ch: char) -> bool {
    let c = u32::from(ch);
    if c < 0x7f {
        return c >= 0x20;
    }
    if c <= 0xa0 {
        return false; // DEL, C1 controls (Cc), NO-BREAK SPACE (Zs)
    }
    if c & 0xfffe == 0xfffe || (0xfdd0..=0xfdef).contains(&c) {
        return false; // noncharacters (Cn)
    }
    !matches!(
        c,
        0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x890..=0x891 | 0x8e2 | 0x180e // Cf
            | 0x1680 | 0x2000..=0x200a | 0x202f | 0x205f | 0x3000 // Zs
            | 0x2028 // Zl
            | 0x2029 // Zp
            | 0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x2064 | 0x2066..=0x206f // Cf
            | 0xfeff | 0xfff9..=0xfffb | 0x110bd | 0x110cd | 0x13430..=0x1343f // Cf
            | 0x1bca0..=0x1bca3 | 0x1d173..=0x1d17a | 0xe0001 | 0xe0020..=0xe007f // Cf
            | 0xe000..=0xf8ff | 0xf0000..=0x10ffff // Co (and xFFFE/xFFFF, handled above)
            | 0x40000..=0xdffff // unassigned planes 4 to 13 (Cn)
            | 0xe0000 | 0xe0002..=0xe001f | 0xe0080..=0xe00ff | 0xe01f0..=0xeffff // Cn
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_top_level_values_only() {
        let ctx = r#"{"a": {"k": 1, "x": [1, "}", {"k": 2}]}, "k": "top", "b": [{"k": 3}]}"#;
        assert_eq!(lookup(ctx, "k"), Some(r#""top""#));
        assert_eq!(
            lookup(ctx, "a"),
            Some(r#"{"k": 1, "x": [1, "}", {"k": 2}]}"#)
        );
        assert_eq!(lookup(ctx, "b"), Some(r#"[{"k": 3}]"#));
        assert_eq!(lookup(ctx, "x"), None);
        assert_eq!(lookup(ctx, ""), None);
        assert_eq!(lookup("{}", "k"), None);
        assert_eq!(lookup("[1]", "k"), None);
    }

    #[test]
    fn lookup_skips_strings_with_escapes() {
        let ctx = r#"{"s": "a\"b\\", "t": "q\\\"}{", "k": -1.5e3}"#;
        assert_eq!(lookup(ctx, "s"), Some(r#""a\"b\\""#));
        assert_eq!(lookup(ctx, "t"), Some(r#""q\\\"}{""#));
        assert_eq!(lookup(ctx, "k"), Some("-1.5e3"));
    }

    #[test]
    fn lookup_decodes_escaped_keys() {
        let ctx = r#"{"caf\u00e9": 1, "a\"b": 2, "\ud83d\ude00": 3, "\ud800": 4, "x\/y": 5}"#;
        assert_eq!(lookup(ctx, "caf\u{e9}"), Some("1"));
        assert_eq!(lookup(ctx, "caf\\u00e9"), None);
        assert_eq!(lookup(ctx, "a\"b"), Some("2"));
        assert_eq!(lookup(ctx, "\u{1f600}"), Some("3"));
        assert_eq!(lookup(ctx, "\u{fffd}"), None);
        assert_eq!(lookup(ctx, "x/y"), Some("5"));
        // A raw non-ASCII key and an escaped lookup key are the same string.
        assert_eq!(lookup("{\"caf\u{e9}\": true}", "caf\u{e9}"), Some("true"));
    }

    #[test]
    fn lookup_last_duplicate_wins() {
        let ctx = r#"{"k": 1, "j": 0, "k": [2], "\u006b": "three"}"#;
        assert_eq!(lookup(ctx, "k"), Some(r#""three""#));
        assert_eq!(lookup(r#"{"k": 1, "k": 2}"#, "k"), Some("2"));
    }

    #[test]
    fn lookup_tolerates_whitespace() {
        let ctx = " \r\n\t{ \n\"a\" \t:\r\n 12 \n, \"b\"\n:\n{ } ,\"c\":[ 1 , 2 ]\n}\n ";
        assert_eq!(lookup(ctx, "a"), Some("12"));
        assert_eq!(lookup(ctx, "b"), Some("{ }"));
        assert_eq!(lookup(ctx, "c"), Some("[ 1 , 2 ]"));
        assert_eq!(lookup("{\"a\":null}", "a"), Some("null"));
    }

    #[test]
    fn lookup_never_panics_on_malformed_text() {
        for text in [
            "",
            "{",
            "{\"",
            "{\"a",
            "{\"a\"",
            "{\"a\":",
            "{\"a\":\"x",
            "{\"a\":[",
            "{\"a\\",
            "{\"a\":}",
            "[\u{e9}]",
            "{\"a\":\u{e9}}",
            "[1,]",
            "]",
            "[}",
            "{]",
            "\"\\u12",
            "\"\\ud800\\u",
            "[\"\\",
            "[\"\u{e9}\\",
        ] {
            let _ = lookup(text, "a");
            let _ = python_str(text);
            let _ = matches(text, "a", "x");
        }
        assert_eq!(lookup("{\"a\":1,", "a"), Some("1"));
    }

    fn float(text: &str) -> String {
        python_str(text)
    }

    #[test]
    fn floats_follow_python_repr() {
        let cases = [
            ("1e-05", "1e-05"),
            ("0.00001", "1e-05"),
            ("1e+16", "1e+16"),
            ("1E16", "1e+16"),
            ("10000000000000000.0", "1e+16"),
            ("1000000000000000.0", "1000000000000000.0"),
            ("1e15", "1000000000000000.0"),
            ("0.0001", "0.0001"),
            ("1e-4", "0.0001"),
            ("-0.0", "-0.0"),
            ("0.0", "0.0"),
            ("0e10", "0.0"),
            ("-0e-3", "-0.0"),
            ("5e-324", "5e-324"),
            ("1.7976931348623157e+308", "1.7976931348623157e+308"),
            ("1e400", "inf"),
            ("-1e400", "-inf"),
            ("1e-400", "0.0"),
            ("1.0", "1.0"),
            ("100", "100"),
            ("100.0", "100.0"),
            ("123.456e1", "1234.56"),
            ("0.1", "0.1"),
            ("-2.5E-7", "-2.5e-07"),
            ("1.5e300", "1.5e+300"),
            ("123456789012345678", "123456789012345678"),
            ("123456789012345678.0", "1.2345678901234568e+17"),
            ("9007199254740993.0", "9007199254740992.0"),
        ];
        for (json, want) in cases {
            assert_eq!(float(json), want, "python_str({json})");
        }
    }

    #[test]
    fn float_ties_round_to_even_like_python() {
        // Exactly halfway between two shortest candidates: Python keeps the even last digit.
        let cases = [
            ("901629076986348.25", "901629076986348.2"),
            ("901629076986348.75", "901629076986348.8"),
            ("901629076986349.25", "901629076986349.2"),
            ("-112426404203584.625", "-112426404203584.62"),
            ("13485854629170.3125", "13485854629170.312"),
            ("1419077417242460.25", "1419077417242460.2"),
            ("2043199651826879.25", "2043199651826879.2"),
        ];
        for (json, want) in cases {
            assert_eq!(float(json), want, "python_str({json})");
        }
    }

    #[test]
    fn integers_are_exact() {
        assert_eq!(python_str("-0"), "0");
        assert_eq!(
            python_str("123456789012345678901234567890"),
            "123456789012345678901234567890"
        );
        assert_eq!(python_str("-18446744073709551617"), "-18446744073709551617");
        let ctx = r#"{"z": -0, "n": -12, "p": 12, "f": 12.0}"#;
        assert!(matches(ctx, "z", "0"));
        assert!(!matches(ctx, "z", "-0"));
        assert!(matches(ctx, "n", "-12"));
        assert!(!matches(ctx, "n", "12"));
        assert!(matches(ctx, "p", "12"));
        assert!(!matches(ctx, "p", "-12"));
        assert!(!matches(ctx, "f", "12"));
        assert!(matches(ctx, "f", "12.0"));
    }

    #[test]
    fn matches_strings_and_constants() {
        let ctx = r#"{"s": "503", "e": "caf\u00e9", "l": "\ud800", "n": null, "t": true}"#;
        assert!(matches(ctx, "s", "503"));
        assert!(!matches(ctx, "s", "\"503\""));
        assert!(matches(ctx, "e", "caf\u{e9}"));
        assert!(!matches(ctx, "e", "caf"));
        assert!(!matches(ctx, "l", "\u{fffd}"));
        assert!(matches(ctx, "n", "None"));
        assert!(matches(ctx, "missing", "None"));
        assert!(!matches(ctx, "missing", ""));
        assert!(matches(ctx, "t", "True"));
        assert!(!matches(ctx, "t", "true"));
        assert_eq!(python_str(r#""\ud800x""#), "\u{fffd}x");
    }

    #[test]
    fn containers_follow_python_repr() {
        let cases = [
            (r#"{"a": 1, "b": 2, "a": 3}"#, "{'a': 3, 'b': 2}"),
            (r#"[{"k": 1, "k": {"x": 1, "x": 2}}]"#, "[{'k': {'x': 2}}]"),
            (r#"{"a\u0062": 1, "ab": 2}"#, "{'ab': 2}"),
            (r#"[ 1 , [ ] , { } , "x" ]"#, "[1, [], {}, 'x']"),
            (r#"["\ud800", "\ud83d\ude00"]"#, "['\\ud800', '\u{1f600}']"),
            (
                r#"["\u0000\u001f\u0080\u00ad\u00e9"]"#,
                "['\\x00\\x1f\\x80\\xad\u{e9}']",
            ),
            (
                r#"["\ufffe\ufdd0\ue000\u3000"]"#,
                "['\\ufffe\\ufdd0\\ue000\\u3000']",
            ),
            (
                r#"["\udb80\udc00", "\udb40\udd00"]"#,
                "['\\U000f0000', '\u{e0100}']",
            ),
            (r#"["a\\b", "\"", "'\""]"#, r#"['a\\b', '"', '\'"']"#),
            (r#"[-0, 1E2, true]"#, "[0, 100.0, True]"),
        ];
        for (json, want) in cases {
            assert_eq!(python_str(json), want, "python_str({json})");
        }
        let many: Vec<String> = (0..40).map(|n| format!("\"k{}\": {n}", n % 20)).collect();
        let want: Vec<String> = (0..20).map(|n| format!("'k{n}': {}", n + 20)).collect();
        let got = python_str(&format!("{{{}}}", many.join(", ")));
        assert_eq!(got, format!("{{{}}}", want.join(", ")));
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let depth = 100_000;
        let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert_eq!(python_str(&text), text);
        let ctx = format!("{{\"a\": {text}, \"b\": 1}}");
        assert_eq!(lookup(&ctx, "b"), Some("1"));
    }

    #[test]
    fn kinds() {
        assert_eq!(json_kind(" {}"), "an object");
        assert_eq!(json_kind("\n[1]"), "an array");
        assert_eq!(json_kind("\"x\""), "a string");
        assert_eq!(json_kind("false"), "a boolean");
        assert_eq!(json_kind("null"), "null");
        assert_eq!(json_kind("-1"), "a number");
    }
}
