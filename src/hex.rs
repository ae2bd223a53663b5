//! Lowercase hexadecimal text of bytes: journal ids, segment digests and
//! audit hashes are shown and stored this way.

/// Lowercase hex.
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_byte_is_two_lowercase_digits() {
        assert_eq!(super::hex(&[0, 0xab, 0xff, 0x10]), "00abff10");
        assert_eq!(super::hex(&[]), "");
    }
}
