//! Element sets: CelesTrak's text forms (three lines with a name, or two
//! lines) and OMM JSON, read with the `sgp4` crate.

/// Why a file of element sets was refused (lines count from 1, as in the file).
#[derive(Debug, thiserror::Error)]
pub enum ElementsError {
    #[error("not valid OMM JSON: {0}")]
    Omm(#[from] serde_json::Error),
    #[error("line {0}: element set cut short")]
    CutShort(usize),
    #[error("element set at line {line}: {why}")]
    Tle { line: usize, why: sgp4::TleError },
}

/// Element sets from CelesTrak-style text: 3-line (name, line 1, line 2) or
/// 2-line sets (named `norad-<catalog number>`), or OMM JSON (a list).
/// A first line of two integers (Hypatia's `tles.txt` header: orbits and
/// satellites per orbit) is skipped.
pub fn parse_element_sets(text: &str) -> Result<Vec<(String, sgp4::Elements)>, ElementsError> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') || trimmed.starts_with('{') {
        let list: Vec<sgp4::Elements> = if trimmed.starts_with('[') {
            serde_json::from_str(trimmed)?
        } else {
            vec![serde_json::from_str(trimmed)?]
        };
        return Ok(list
            .into_iter()
            .map(|e| {
                let name = e
                    .object_name
                    .clone()
                    .unwrap_or_else(|| format!("norad-{}", e.norad_id));
                (name, e)
            })
            .collect());
    }
    // Non-empty lines with their line numbers in the file.
    let lines: Vec<(usize, &str)> = text
        .lines()
        .map(str::trim_end)
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, l))
        .collect();
    let is_line = |l: &str, n: char| l.len() >= 69 && l.starts_with(n) && l[1..].starts_with(' ');
    let hypatia_header = |l: &str| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() == 2 && f.iter().all(|x| x.parse::<u32>().is_ok())
    };
    let mut out = Vec::new();
    let mut i = usize::from(lines.first().is_some_and(|&(_, l)| hypatia_header(l)));
    while i < lines.len() {
        let (first, text) = lines[i];
        let (name, skip) = if is_line(text, '1') {
            (None, 0)
        } else {
            let name = text.trim();
            (
                Some(name.strip_prefix("0 ").unwrap_or(name).trim().to_owned()),
                1,
            )
        };
        let (Some(&(_, l1)), Some(&(at, l2))) = (lines.get(i + skip), lines.get(i + skip + 1))
        else {
            return Err(ElementsError::CutShort(first));
        };
        let elements = sgp4::Elements::from_tle(name.clone(), l1.as_bytes(), l2.as_bytes())
            .map_err(|why| ElementsError::Tle { line: at, why })?;
        let name = name.unwrap_or_else(|| format!("norad-{}", elements.norad_id));
        out.push((name, elements));
        i += skip + 2;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_cut_short_names_its_line_in_the_file() {
        let text =
            "\nDEMO-1\n1 90001U 26001A   26001.00000000  .00000000  00000-0  00000-0 0  9998\n";
        let e = parse_element_sets(text).expect_err("cut short");
        assert_eq!(e.to_string(), "line 2: element set cut short");
    }
}
