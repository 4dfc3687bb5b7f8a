//! Enums whose values have names in scenario files, reports and events:
//! one table per enum ([`Named::NAMES`]) gives the name of each value,
//! its parsing (through serde, so a scenario field names the bad value
//! and every good one), and its display.
//!
//! ```
//! orbnet_netem::named! {
//!     /// A colour.
//!     pub enum Colour { Red = "red", DeepBlue = "deep-blue" }
//! }
//! use orbnet_netem::names::Named;
//! assert_eq!(Colour::DeepBlue.as_str(), "deep-blue");
//! assert_eq!(Colour::from_name("red"), Some(Colour::Red));
//! assert_eq!(Colour::one_of(), "red, deep-blue");
//! assert_eq!(Colour::unknown("x"), "must be \"red\" or \"deep-blue\" (got \"x\")");
//! ```

/// An enum of named values.
pub trait Named: Copy + PartialEq + 'static {
    /// Every value with its name, in the order messages list them.
    const NAMES: &'static [(Self, &'static str)];

    /// The value's name.
    fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(v, _)| *v == self)
            .map_or("?", |e| e.1)
    }

    /// The value named `s`.
    fn from_name(s: &str) -> Option<Self> {
        Self::NAMES.iter().find(|(_, n)| *n == s).map(|e| e.0)
    }

    /// Every name, comma-separated, for messages.
    fn one_of() -> String {
        let names: Vec<&str> = Self::NAMES.iter().map(|e| e.1).collect();
        names.join(", ")
    }

    /// The message for a name that is none of these: `must be "a" or "b"`
    /// for two, `must be one of: a, b, c` for more.
    fn unknown(got: &str) -> String {
        match Self::NAMES {
            [(_, a), (_, b)] => format!("must be \"{a}\" or \"{b}\" (got {got:?})"),
            _ => format!("must be one of: {} (got {got:?})", Self::one_of()),
        }
    }
}

/// Declares an enum of unit variants with a name each, and implements
/// [`Named`], `as_str`, `Display`, `Serialize` and `Deserialize` (which
/// refuses an unknown name with "must be one of: …").
#[macro_export]
macro_rules! named {
    (
        $(#[$m:meta])*
        $vis:vis enum $t:ident {
            $($(#[$vm:meta])* $v:ident = $n:literal),+ $(,)?
        }
    ) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        $vis enum $t {
            $($(#[$vm])* $v),+
        }

        impl $crate::names::Named for $t {
            const NAMES: &'static [($t, &'static str)] = &[$(($t::$v, $n)),+];
        }

        impl $t {
            /// The value's name.
            $vis fn as_str(self) -> &'static str {
                <$t as $crate::names::Named>::name(self)
            }
        }

        impl ::std::fmt::Display for $t {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $t {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $t {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<$t, D::Error> {
                use $crate::names::Named;
                let s = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(d)?;
                <$t>::from_name(&s)
                    .ok_or_else(|| ::serde::de::Error::custom(<$t>::unknown(&s)))
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::Named;

    crate::named! {
        enum Shape { Round = "round", SquareEdged = "square-edged", Flat = "flat" }
    }

    crate::named! {
        enum Side { Left = "left", Right = "right" }
    }

    #[test]
    fn names_parse_print_and_refuse() {
        assert_eq!(Shape::SquareEdged.to_string(), "square-edged");
        assert_eq!(Shape::from_name("round"), Some(Shape::Round));
        assert_eq!(Shape::from_name("oval"), None);
        let ok: Shape = serde_json::from_str("\"square-edged\"").expect("a name");
        assert_eq!(ok, Shape::SquareEdged);
        let e = serde_json::from_str::<Shape>("\"oval\"").expect_err("not a name");
        assert!(
            e.to_string()
                .contains("must be one of: round, square-edged, flat (got \"oval\")"),
            "{e}"
        );
        assert_eq!(
            serde_json::to_string(&Shape::Round).expect("json"),
            "\"round\""
        );
        assert_eq!(
            Side::unknown("up"),
            "must be \"left\" or \"right\" (got \"up\")"
        );
    }
}
