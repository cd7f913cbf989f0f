//! Substring search for `contains` with a literal: the needle is prepared
//! once, at compile time, and searched for in every event's text.
//!
//! The texts conditions search are short (page URLs and titles, mostly under
//! 64 bytes), where `memchr::memmem` falls back to Rabin–Karp, a rolling hash
//! over every byte; that was the largest single cost of the engine's benchmark.
//! For short texts this tests many positions at once instead: a position can
//! only start a match if it has the needle's two rarest bytes (memchr's own
//! ranking) at their offsets, which two vector comparisons find for 16
//! positions together (memchr's SSE2 "packed pair" searcher, called directly)
//! or, in texts too short for that, two word-wide comparisons for eight; only
//! those candidates are compared in full. Longer texts go to `memmem`.

use memchr::arch::all::packedpair::Pair;
use memchr::memmem::Finder;

/// Below this haystack length the word-wide scan runs; above it, `memmem`.
const SHORT: usize = 64;

/// A substring to look for, with its prebuilt searchers.
#[derive(Clone)]
pub struct Needle {
    finder: Finder<'static>,
    /// The offsets of the two rarest bytes and those bytes repeated in every
    /// byte of a word; `None` for needles shorter than two bytes.
    pair: Option<RarePair>,
    /// memchr's 16-wide version of the same test, for texts long enough for it.
    #[cfg(target_arch = "x86_64")]
    sse2: Option<memchr::arch::x86_64::sse2::packedpair::Finder>,
}

#[derive(Clone, Copy)]
struct RarePair {
    i1: usize,
    i2: usize,
    b1: u64,
    b2: u64,
}

const LO7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
const HI: u64 = 0x8080_8080_8080_8080;
const ONES: u64 = 0x0101_0101_0101_0101;

impl std::fmt::Debug for Needle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.text())
    }
}

impl Needle {
    pub fn new(text: &str) -> Self {
        let bytes = text.as_bytes();
        let pair = Pair::new(bytes).map(|p| {
            let (i1, i2) = (usize::from(p.index1()), usize::from(p.index2()));
            RarePair { i1, i2, b1: ONES * u64::from(bytes[i1]), b2: ONES * u64::from(bytes[i2]) }
        });
        Needle {
            finder: Finder::new(bytes).into_owned(),
            pair,
            #[cfg(target_arch = "x86_64")]
            sse2: memchr::arch::x86_64::sse2::packedpair::Finder::new(bytes),
        }
    }

    pub fn text(&self) -> &str {
        // Built from a &str, so the bytes are UTF-8.
        std::str::from_utf8(self.finder.needle()).unwrap_or("")
    }

    /// Whether `haystack` contains the needle.
    #[inline]
    pub fn is_in(&self, haystack: &str) -> bool {
        let h = haystack.as_bytes();
        match self.pair {
            Some(pair) if h.len() < SHORT => {
                #[cfg(target_arch = "x86_64")]
                if let Some(sse2) = &self.sse2
                    && h.len() >= sse2.min_haystack_len()
                {
                    return sse2.find(h, self.finder.needle()).is_some();
                }
                self.is_in_short(h, pair)
            }
            _ => self.finder.find(h).is_some(),
        }
    }

    fn is_in_short(&self, h: &[u8], pair: RarePair) -> bool {
        let needle = self.finder.needle();
        let n = needle.len();
        let Some(last) = h.len().checked_sub(n) else {
            return false;
        };
        // Positions 0..=last can start a match.
        let positions = last + 1;
        if positions < 8 {
            return (0..positions).any(|p| {
                h[p + pair.i1] == needle[pair.i1] && h[p + pair.i2] == needle[pair.i2] && &h[p..p + n] == needle
            });
        }
        // Eight positions per step; the last step overlaps the one before it so
        // that it never reads past the end. Loading eight bytes at p + i never
        // does when p + 8 <= positions, since i < n.
        let mut p = 0;
        loop {
            let start = p.min(positions - 8);
            let mut cand =
                zero_bytes(word(h, start + pair.i1) ^ pair.b1) & zero_bytes(word(h, start + pair.i2) ^ pair.b2);
            while cand != 0 {
                let at = start + cand.trailing_zeros() as usize / 8;
                if &h[at..at + n] == needle {
                    return true;
                }
                cand &= cand - 1;
            }
            if start + 8 >= positions {
                return false;
            }
            p += 8;
        }
    }
}

#[inline(always)]
fn word(h: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&h[at..at + 8]);
    u64::from_le_bytes(w)
}

/// The high bit of every byte of `x` that is zero, and no other bit (exact,
/// unlike the shorter `(x - 0x01..) & !x & 0x80..`, which can flag the byte
/// after a zero).
#[inline(always)]
fn zero_bytes(x: u64) -> u64 {
    !(((x & LO7) + LO7) | x) & HI
}

/// A `matches` pattern, with the literals one of which every match begins
/// with, when the regex has a short list of them: a text containing none of
/// them cannot match, and most texts a rule tests (page URLs) contain none.
/// The check costs a substring search or two; the regex, even one that finds
/// nothing, costs its engine's set-up on every call.
#[derive(Clone)]
pub struct Pattern {
    re: regex::Regex,
    starts: Option<Box<[Needle]>>,
}

/// Past this many literals, the check would cost more than the regex.
const MAX_STARTS: usize = 4;

impl Pattern {
    pub fn new(re: regex::Regex) -> Self {
        let starts = Self::starts(re.as_str());
        Pattern { re, starts }
    }

    fn starts(pattern: &str) -> Option<Box<[Needle]>> {
        use regex_syntax::hir::literal::{ExtractKind, Extractor};
        // The same syntax and defaults as `regex::Regex::new`.
        let hir = regex_syntax::Parser::new().parse(pattern).ok()?;
        let seq = Extractor::new().kind(ExtractKind::Prefix).extract(&hir);
        // A finite list: every match starts with one of them (an empty one
        // would start every text, and a cut one may not be UTF-8: no check then).
        let literals = seq.literals()?;
        if literals.is_empty() || literals.len() > MAX_STARTS || literals.iter().any(|l| l.as_bytes().is_empty()) {
            return None;
        }
        literals.iter().map(|l| std::str::from_utf8(l.as_bytes()).ok().map(Needle::new)).collect()
    }

    #[inline]
    pub fn is_match(&self, s: &str) -> bool {
        match &self.starts {
            Some(starts) if !starts.iter().any(|n| n.is_in(s)) => false,
            _ => self.re.is_match(s),
        }
    }
}

impl std::fmt::Debug for Pattern {
    /// As the regex prints itself: the check is an optimisation, not part of the condition.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.re.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn finds_at_every_offset_and_not_past_the_end() {
        // Every verification width, and needles whose rare bytes are far in.
        for text in ["/c", "/ch", "/che", "/checkout", "/checkout-page-1", "/checkout-page-12", "zq/checkout/q/z"] {
            let (needle, n) = (Needle::new(text), text.len());
            for len in 0usize..80 {
                for at in 0..=len.saturating_sub(n) {
                    let mut h = "x".repeat(len);
                    if len >= n {
                        h.replace_range(at..at + n, text);
                    }
                    assert_eq!(needle.is_in(&h), len >= n, "{text:?} in {h:?}");
                    // The last byte changed: no match anywhere.
                    if len >= n {
                        h.replace_range(at + n - 1..at + n, "#");
                        assert!(!needle.is_in(&h), "{text:?} in {h:?}");
                    }
                }
            }
        }
        let needle = Needle::new("/checkout");
        assert!(!needle.is_in("https://x.example/checkou"));
        assert!(Needle::new("").is_in(""));
        assert!(Needle::new("a").is_in("xxa"));
    }

    proptest! {
        // Small alphabets, so that candidates and near-misses are common.
        #[test]
        fn agrees_with_str_contains(h in "[ab/é]{0,90}", n in "[ab/é]{0,6}") {
            prop_assert_eq!(Needle::new(&n).is_in(&h), h.contains(&n));
        }

        // Needles longer than a vector, and near misses of them.
        #[test]
        fn agrees_for_long_needles(pre in "[ab]{0,30}", n in "[ab/]{15,24}", post in "[ab]{0,30}", at in 0usize..24) {
            let with = format!("{pre}{n}{post}");
            prop_assert!(Needle::new(&n).is_in(&with));
            // The same text with one byte of the needle changed.
            let mut near = with.clone().into_bytes();
            let i = pre.len() + at % n.len();
            near[i] = if near[i] == b'/' { b'a' } else { b'/' };
            let near = String::from_utf8(near).expect("ASCII");
            prop_assert_eq!(Needle::new(&n).is_in(&near), near.contains(&n));
        }

        #[test]
        fn agrees_on_urls(h in "https://[a-z]{1,8}\\.example/[a-z/]{0,60}", n in "[a-z/]{1,10}") {
            prop_assert_eq!(Needle::new(&n).is_in(&h), h.contains(&n));
        }

        // Patterns built from pieces that give the literal extractor finite,
        // infinite, inexact and case-folded lists, on texts made of the same letters.
        #[test]
        fn patterns_agree_with_their_regex(
            pieces in proptest::collection::vec(prop_oneof![
                Just("a"), Just("b"), Just("/"), Just("é"), Just("(a|b)"), Just("(ab|)"), Just("a?"), Just("b*"),
                Just("."), Just("^"), Just("$"), Just("(?i)a"), Just("[ab]"), Just("\\d"), Just("|"),
            ], 1..6),
            h in "[ab/éA1]{0,12}",
        ) {
            let pattern = pieces.concat();
            if let Ok(re) = regex::Regex::new(&pattern) {
                prop_assert_eq!(Pattern::new(re.clone()).is_match(&h), re.is_match(&h), "{} on {:?}", pattern, h);
            }
        }
    }

    #[test]
    fn a_pattern_checks_its_literals_only_when_every_match_starts_with_one() {
        let starts = |p: &str| {
            Pattern::new(regex::Regex::new(p).unwrap())
                .starts
                .map(|s| s.iter().map(|n| n.text().to_string()).collect::<Vec<_>>())
        };
        assert_eq!(
            starts("/checkout/(shipping|payment)"),
            Some(vec!["/checkout/shipping".into(), "/checkout/payment".into()])
        );
        assert_eq!(starts("black.?friday|bf26"), Some(vec!["black".into(), "bf26".into()]));
        // An optional start, a class too wide to list, or an empty branch: no check.
        assert_eq!(starts("a?b"), Some(vec!["ab".into(), "b".into()]));
        assert_eq!(starts(".*x"), None);
        assert_eq!(starts("x|"), None);
        let p = Pattern::new(regex::Regex::new("/checkout/(shipping|payment)").unwrap());
        assert!(p.is_match("https://x.example/checkout/payment?step=2"));
        assert!(!p.is_match("https://x.example/checkout/"));
        assert_eq!(format!("{p:?}"), "Regex(\"/checkout/(shipping|payment)\")");
    }
}
