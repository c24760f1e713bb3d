//! National identifiers with their check digits: NIR (France), KVNR, LANR, IKNR (Germany), FINESS and RPPS.
//!
//! Every function builds a syntactically valid identifier from the random parts the caller
//! chooses; the `*_valid` functions check an identifier so tests and readers can verify them.

/// Builds a 15-character NIR (13-digit body + 2-digit key) for a person born in `year` (four
/// digits), `month`, in département `dept` (two digits, e.g. "57") and commune `commune` (the
/// last three digits of the INSEE code), with birth order number `order` (1–999).
/// Sex is 1 (male) or 2 (female). The key is `97 - (body mod 97)`.
pub fn nir(sex: u8, year: i32, month: u32, dept: &str, commune: &str, order: u32) -> String {
    let body = format!(
        "{}{:02}{:02}{}{}{:03}",
        sex,
        year.rem_euclid(100),
        month,
        dept,
        commune,
        order % 1000
    );
    let key = nir_key(&body).unwrap_or(0);
    format!("{body}{key:02}")
}

/// The NIR control key of a 13-digit body (numeric départements only; Corsica's 2A/2B are not
/// generated here).
pub fn nir_key(body: &str) -> Option<u64> {
    if body.len() != 13 || !body.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = body.parse().ok()?;
    Some(97 - n % 97)
}

/// True when a 15-digit NIR carries the right key.
pub fn nir_valid(nir: &str) -> bool {
    if nir.len() != 15 {
        return false;
    }
    let (body, key) = nir.split_at(13);
    match (nir_key(body), key.parse::<u64>()) {
        (Some(k), Ok(given)) => k == given,
        _ => false,
    }
}

/// Sum of the digits of a number below 100.
fn digit_sum(n: u32) -> u32 {
    n / 10 + n % 10
}

/// The KVNR check digit for a letter and eight digits: the letter becomes its two-digit
/// alphabet position (A = 01 … Z = 26), the ten digits are weighted 1, 2, 1, 2, …, products are
/// replaced by their digit sums, and the total modulo 10 is the check digit.
pub fn kvnr_check(letter: char, digits: &str) -> Option<u32> {
    if !letter.is_ascii_uppercase() || digits.len() != 8 {
        return None;
    }
    let pos = letter as u32 - 'A' as u32 + 1;
    let mut all = vec![pos / 10, pos % 10];
    for c in digits.chars() {
        all.push(c.to_digit(10)?);
    }
    let sum: u32 = all
        .iter()
        .enumerate()
        .map(|(i, d)| digit_sum(d * if i % 2 == 0 { 1 } else { 2 }))
        .sum();
    Some(sum % 10)
}

/// Builds a KVNR (unchangeable part of the German health insurance number, 10 characters).
pub fn kvnr(letter: char, number: u32) -> String {
    let digits = format!("{:08}", number % 100_000_000);
    let check = kvnr_check(letter, &digits).unwrap_or(0);
    format!("{letter}{digits}{check}")
}

/// True when a KVNR has the right shape and check digit.
pub fn kvnr_valid(kvnr: &str) -> bool {
    let mut chars = kvnr.chars();
    let Some(letter) = chars.next() else {
        return false;
    };
    let rest: String = chars.collect();
    if rest.len() != 9 {
        return false;
    }
    let (digits, check) = rest.split_at(8);
    kvnr_check(letter, digits).map(|c| c.to_string()) == Some(check.to_string())
}

/// The Luhn check digit of a digit string (used here for FINESS and RPPS numbers).
pub fn luhn_check(digits: &str) -> Option<u32> {
    let mut sum = 0;
    for (i, c) in digits.chars().rev().enumerate() {
        let d = c.to_digit(10)?;
        // The rightmost payload digit is doubled, since the check digit will follow it.
        sum += if i % 2 == 0 { digit_sum(d * 2) } else { d };
    }
    Some((10 - sum % 10) % 10)
}

/// True when the last digit of `number` is the Luhn check digit of the rest.
pub fn luhn_valid(number: &str) -> bool {
    if number.len() < 2 {
        return false;
    }
    let (body, check) = number.split_at(number.len() - 1);
    luhn_check(body).map(|c| c.to_string()) == Some(check.to_string())
}

/// A 9-digit FINESS number: département (2 digits), 6-digit serial, Luhn key.
pub fn finess(dept: &str, serial: u32) -> String {
    let body = format!("{dept}{:06}", serial % 1_000_000);
    let key = luhn_check(&body).unwrap_or(0);
    format!("{body}{key}")
}

/// An 11-digit RPPS number: prefix 10, 8-digit serial, Luhn key.
pub fn rpps(serial: u32) -> String {
    let body = format!("10{:08}", serial % 100_000_000);
    let key = luhn_check(&body).unwrap_or(0);
    format!("{body}{key}")
}

/// The LANR check digit: the six serial digits weighted 4, 9, 4, 9, 4, 9, summed; the check is
/// `10 - sum mod 10`, with 10 written as 0.
pub fn lanr_check(serial: &str) -> Option<u32> {
    if serial.len() != 6 {
        return None;
    }
    let mut sum = 0;
    for (i, c) in serial.chars().enumerate() {
        sum += c.to_digit(10)? * if i % 2 == 0 { 4 } else { 9 };
    }
    Some((10 - sum % 10) % 10)
}

/// A 9-digit LANR: 6-digit serial, check digit, 2-digit specialty group (Fachgruppe).
pub fn lanr(serial: u32, specialty: u32) -> String {
    let s = format!("{:06}", serial % 1_000_000);
    let check = lanr_check(&s).unwrap_or(0);
    format!("{s}{check}{:02}", specialty % 100)
}

/// True when a 9-digit LANR carries the right check digit.
pub fn lanr_valid(lanr: &str) -> bool {
    lanr.len() == 9
        && lanr.is_ascii()
        && lanr_check(&lanr[..6]).map(|c| c.to_string()).as_deref() == Some(&lanr[6..7])
}

/// The IKNR check digit over digits 3–8 (the regional code and serial): weights 2, 1, 2, 1, 2, 1,
/// products replaced by their digit sums, total modulo 10.
pub fn iknr_check(first8: &str) -> Option<u32> {
    if first8.len() != 8 {
        return None;
    }
    let mut sum = 0;
    for (i, c) in first8.chars().skip(2).enumerate() {
        sum += digit_sum(c.to_digit(10)? * if i % 2 == 0 { 2 } else { 1 });
    }
    Some(sum % 10)
}

/// A 9-digit IKNR: class (26 = hospital), region (10 = Saarland here), 4-digit serial, check.
pub fn iknr(class: u32, region: u32, serial: u32) -> String {
    let body = format!(
        "{:02}{:02}{:04}",
        class % 100,
        region % 100,
        serial % 10_000
    );
    let check = iknr_check(&body).unwrap_or(0);
    format!("{body}{check}")
}

/// True when a 9-digit IKNR carries the right check digit.
pub fn iknr_valid(iknr: &str) -> bool {
    iknr.len() == 9
        && iknr.is_ascii()
        && iknr_check(&iknr[..8]).map(|c| c.to_string()).as_deref() == Some(&iknr[8..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(valid: bool, expected: bool) {
        assert_eq!(valid, expected);
    }

    #[test]
    fn nir_keys() {
        // Worked example: 2 55 08 14 168 025 has key 38.
        assert_eq!(nir_key("2550814168025"), Some(38));
        check(nir_valid("255081416802538"), true);
        check(nir_valid("255081416802539"), false);
        let n = nir(1, 1957, 3, "57", "227", 12);
        assert_eq!(&n[..13], "1570357227012");
        check(nir_valid(&n), true);
        // Keys below 10 are written with a leading zero.
        for order in 1..400 {
            check(nir_valid(&nir(2, 1990, 12, "57", "631", order)), true);
        }
    }

    #[test]
    fn kvnr_vectors() {
        // A = 01; weights 1,2,1,2… over 0 1 1 2 3 4 5 6 7 8 give 40, so the check digit is 0.
        check(kvnr_valid("A123456780"), true);
        check(kvnr_valid("A123456781"), false);
        assert_eq!(kvnr('A', 12345678), "A123456780");
        // Z = 26: 2 12(→3) 0… over "Z00000000": 2*1 + 6*2=12→3 → 5.
        assert_eq!(kvnr_check('Z', "00000000"), Some(5));
        check(kvnr_valid("a12345678"), false);
    }

    #[test]
    fn luhn_and_friends() {
        // Classic Luhn vector: 7992739871 has check digit 3.
        assert_eq!(luhn_check("7992739871"), Some(3));
        check(luhn_valid("79927398713"), true);
        check(luhn_valid(&finess("57", 12345)), true);
        assert_eq!(finess("57", 12345).len(), 9);
        let r = rpps(4242);
        assert_eq!(r.len(), 11);
        check(luhn_valid(&r), true);
    }

    #[test]
    fn lanr_and_iknr() {
        // 123456: 4+18+12+36+20+54 = 144, 10 - 4 = 6.
        assert_eq!(lanr_check("123456"), Some(6));
        assert_eq!(lanr(123456, 1), "123456601");
        check(lanr_valid("123456601"), true);
        check(lanr_valid("123457601"), false);
        // 26 10 0002: weights over 1 0 0 0 0 2 → 2+0+0+0+0+2 = 4.
        assert_eq!(iknr(26, 10, 2), "261000024");
        check(iknr_valid("261000024"), true);
        check(iknr_valid("261000025"), false);
    }

    proptest::proptest! {
        #[test]
        fn generated_identifiers_always_validate(
            sex in 1u8..=2, year in 1900i32..2030, month in 1u32..=12, commune in 0u32..1000,
            order in 1u32..1000, letter in 0u8..26, serial in 0u32..100_000_000,
        ) {
            let n = nir(sex, year, month, "57", &format!("{commune:03}"), order);
            proptest::prop_assert!(nir_valid(&n), "{}", n);
            let k = kvnr((b'A' + letter) as char, serial);
            proptest::prop_assert!(kvnr_valid(&k), "{}", k);
            proptest::prop_assert!(luhn_valid(&rpps(serial)));
            proptest::prop_assert!(luhn_valid(&finess("57", serial)));
            proptest::prop_assert!(lanr_valid(&lanr(serial, month)));
            proptest::prop_assert!(iknr_valid(&iknr(26, 10, serial)));
        }

        #[test]
        fn single_digit_changes_are_detected(serial in 0u32..100_000_000, pos in 0usize..9, delta in 1u32..10) {
            // Luhn, the KVNR and the NIR key catch every single-digit substitution.
            let r = rpps(serial);
            let mut bytes = r.clone().into_bytes();
            let d = (bytes[pos + 2] - b'0' + delta as u8) % 10;
            bytes[pos + 2] = b'0' + d;
            proptest::prop_assert!(!luhn_valid(&String::from_utf8(bytes).unwrap()));
            let k = kvnr('K', serial);
            let mut bytes = k.into_bytes();
            let i = 1 + pos % 8;
            bytes[i] = b'0' + (bytes[i] - b'0' + delta as u8) % 10;
            proptest::prop_assert!(!kvnr_valid(&String::from_utf8(bytes).unwrap()));
        }
    }
}
