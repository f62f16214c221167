//! How figures are written in `REPORT.md` and on the terminal.

/// Writes `v` with three significant digits (at least), thousands separated by commas, and no
/// exponent: `0.0123`, `1.23`, `12.3`, `123`, `12,345`.
pub fn number(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let abs = v.abs();
    let decimals = if abs >= 100.0 || abs == 0.0 {
        0
    } else if abs >= 10.0 {
        1
    } else if abs >= 1.0 {
        2
    } else {
        // Three significant digits below one.
        (2 - abs.log10().floor() as i32).clamp(3, 9) as usize
    };
    let text = format!("{v:.decimals$}");
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (text.as_str(), None),
    };
    let (sign, digits) = match int.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", int),
    };
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// Writes a count with thousands separated by commas: `1`, `10,000`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Writes a ratio to the best figure: `1.00×`, `2.37×`.
pub fn ratio(r: f64) -> String {
    format!("{r:.2}×")
}

/// A size in bytes: in B below 10 KiB, in KiB below a MiB, in MiB above.
pub fn bytes(bytes: f64) -> String {
    if bytes >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
    } else if bytes >= 10.0 * 1024.0 {
        format!("{:.1} KiB", bytes / 1024.0)
    } else {
        format!("{bytes:.0} B")
    }
}

#[cfg(test)]
mod tests {
    use super::number;

    #[test]
    fn numbers_keep_three_significant_digits_and_group_thousands() {
        assert_eq!(number(0.0), "0");
        assert_eq!(number(0.012345), "0.0123");
        assert_eq!(number(0.5), "0.500");
        assert_eq!(number(1.234), "1.23");
        assert_eq!(number(12.34), "12.3");
        assert_eq!(number(123.4), "123");
        assert_eq!(number(12345.6), "12,346");
        assert_eq!(number(1234567.0), "1,234,567");
        assert_eq!(number(-1234.0), "-1,234");
        assert_eq!(super::count(1), "1");
        assert_eq!(super::count(1_000_000), "1,000,000");
    }
}
