//! The nodes' names in one buffer. A process holds the whole world, and
//! Starlink phase 1 has 4,408 satellites: one allocation per name would be
//! 4,408 small blocks in every satellite process, among which the
//! set-up's freed temporaries leave pages that cannot go back.

/// Names, each a slice of one string.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct NameTable {
    text: String,
    /// Where each name ends in `text`.
    ends: Vec<u32>,
}

impl NameTable {
    pub(crate) fn new<S: AsRef<str>>(names: &[S]) -> NameTable {
        let mut text = String::with_capacity(names.iter().map(|n| n.as_ref().len()).sum());
        let mut ends = Vec::with_capacity(names.len());
        for n in names {
            text.push_str(n.as_ref());
            ends.push(u32::try_from(text.len()).unwrap_or(u32::MAX));
        }
        NameTable { text, ends }
    }

    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    pub(crate) fn get(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)? as usize;
        let start = match i {
            0 => 0,
            _ => self.ends[i - 1] as usize,
        };
        self.text.get(start..end)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_back_as_given() {
        let names = ["sat-0", "", "STARLINK-1007", "gs-0", "sat-ü"];
        let t = NameTable::new(&names);
        assert_eq!(t.len(), 5);
        assert_eq!(t.iter().collect::<Vec<_>>(), names);
        assert_eq!(t.get(5), None);
        assert_eq!(NameTable::new::<&str>(&[]).iter().count(), 0);
    }
}
