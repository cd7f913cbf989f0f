//! Visitors between visits: what the engine keeps of a visitor whose session
//! timed out (the lifetime figures conditions can read on its next visit), in
//! about 30 bytes when that is all there is, so that memory follows the
//! visitors active at once rather than every visitor ever seen (SPEC §9).
//!
//! A visitor is found again by a 128-bit hash of its id ([`key`]): the first 64
//! bits order a B-tree (which grows a node at a time, where a hash table would
//! double), 32 more are kept beside the figures to tell two visitors apart in
//! the unlikely case that they share the first 64 (≈ n² / 2⁶⁵; such a visitor
//! goes to a second map keyed by all 128 bits). Counters and customer-segment
//! times, when a visitor has any, are packed in an arena of fixed-width blocks;
//! traits and next-session actions, rarer, in a map of their own.
//!
//! A revived visitor's record stays in the B-tree, marked vacant, for its next
//! retirement to fill: visitors come and go far more often than new ones
//! arrive, and removing and reinserting would free and allocate tree nodes
//! every few visits.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use rustc_hash::FxHashMap;

use crate::clock::SimTime;
use crate::config::model::ActionMapId;
use crate::dsl::{DynValue, Sym};

use super::state::Lifetime;

/// Blocks per arena chunk: chunks, not one growing vector, so that the arena
/// never holds twice what it needs while it grows.
const CHUNK: usize = 1024;

/// No packed block (all counters zero, no customer segment).
const NO_BLOCK: u32 = u32::MAX;

/// A record whose visitor is active again: a place kept, not a dormant visitor.
const VACANT: u32 = u32::MAX - 1;

/// A dormant visitor's traits and the actions due at its next session.
type Extra = (Vec<(Sym, DynValue)>, Vec<ActionMapId>);

/// A visitor id's key among dormant visitors: two independent 64-bit hashes.
pub fn key(customer: &str) -> u128 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    let sip = BuildHasherDefault::<std::hash::DefaultHasher>::default().hash_one(customer);
    (u128::from(sip) << 64) | u128::from(crate::random::fnv1a64(customer.as_bytes()))
}

#[derive(Clone, Copy, Debug)]
struct Record {
    /// Bits 0..32 of the key (the B-tree holds bits 64..128).
    check: u32,
    sessions: u32,
    pageviews: u32,
    /// The packed counters and segment times, `NO_BLOCK`, or `VACANT`.
    block: u32,
}

#[derive(Debug)]
pub struct Store {
    main: BTreeMap<u64, Record>,
    /// Records of `main` that are not `VACANT`.
    live: usize,
    side: BTreeMap<u128, Record>,
    extra: FxHashMap<u128, Extra>,
    chunks: Vec<Box<[u64]>>,
    /// Blocks given back by revived visitors, reused first.
    free: Vec<u32>,
    blocks: u32,
    visitor_slots: usize,
    customer_slots: usize,
}

impl Store {
    /// A store for lifetimes of `visitor_slots` counters and `customer_slots`
    /// customer-scope segments.
    pub fn new(visitor_slots: usize, customer_slots: usize) -> Store {
        Store {
            main: BTreeMap::new(),
            live: 0,
            side: BTreeMap::new(),
            extra: FxHashMap::default(),
            chunks: Vec::new(),
            free: Vec::new(),
            blocks: 0,
            visitor_slots,
            customer_slots,
        }
    }

    /// Dormant visitors.
    pub fn len(&self) -> usize {
        self.live + self.side.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn width(&self) -> usize {
        self.visitor_slots + self.customer_slots
    }

    fn block_mut(&mut self, block: u32) -> &mut [u64] {
        let (w, b) = (self.width(), block as usize);
        &mut self.chunks[b / CHUNK][(b % CHUNK) * w..(b % CHUNK + 1) * w]
    }

    /// Keeps `life` under `key` (the visitor must not be dormant already).
    /// Keeps `life` under `key`, leaving it as [`Lifetime::clear`] does: a
    /// first-time visitor's, its arrays kept for the next visitor in its place.
    pub fn insert(&mut self, key: u128, life: &mut Lifetime) {
        let plain = life.counts.iter().all(|c| *c == 0) && life.customer_segments.iter().all(Option::is_none);
        let block = if plain { NO_BLOCK } else { self.pack(life) };
        if !life.traits.is_empty() || !life.next_session.is_empty() {
            let extra = (std::mem::take(&mut life.traits), std::mem::take(&mut life.next_session));
            self.extra.insert(key, extra);
        }
        let record = Record { check: key as u32, sessions: life.sessions, pageviews: life.pageviews, block };
        life.clear();
        match self.main.entry((key >> 64) as u64) {
            Entry::Vacant(e) => {
                e.insert(record);
                self.live += 1;
            }
            Entry::Occupied(mut e) if e.get().block == VACANT => {
                e.insert(record);
                self.live += 1;
            }
            // Another dormant visitor has the same first 64 bits.
            Entry::Occupied(_) => {
                self.side.insert(key, record);
            }
        }
    }

    fn pack(&mut self, life: &Lifetime) -> u32 {
        let block = match self.free.pop() {
            Some(b) => b,
            None => {
                if self.blocks as usize == self.chunks.len() * CHUNK {
                    self.chunks.push(vec![0; CHUNK * self.width()].into());
                }
                self.blocks += 1;
                self.blocks - 1
            }
        };
        let counts = life.counts.iter().map(|c| u64::from(*c));
        let segments = life.customer_segments.iter().map(|t| t.map_or(i64::MIN, |t| t.0) as u64);
        for (slot, v) in self.block_mut(block).iter_mut().zip(counts.chain(segments)) {
            *slot = v;
        }
        block
    }

    /// Moves the lifetime kept under `key` out of the store into `life`, whose
    /// arrays are sized for this store's rules; a visitor never seen gets a
    /// first-time visitor's. Whether the visitor was found.
    pub fn take_into(&mut self, key: u128, life: &mut Lifetime) -> bool {
        debug_assert_eq!((life.counts.len(), life.customer_segments.len()), (self.visitor_slots, self.customer_slots));
        life.clear();
        let hi = (key >> 64) as u64;
        let record = match self.main.get_mut(&hi) {
            Some(r) if r.check == key as u32 && r.block != VACANT => {
                self.live -= 1;
                Some(std::mem::replace(r, Record { block: VACANT, ..*r }))
            }
            _ => self.side.remove(&key),
        };
        let Some(record) = record else { return false };
        life.sessions = record.sessions;
        life.pageviews = record.pageviews;
        if record.block != NO_BLOCK {
            let visitor_slots = self.visitor_slots;
            let (counts, segments) = self.block_mut(record.block).split_at(visitor_slots);
            for (c, p) in life.counts.iter_mut().zip(counts) {
                *c = *p as u32;
            }
            for (t, p) in life.customer_segments.iter_mut().zip(segments) {
                *t = (*p as i64 != i64::MIN).then_some(SimTime(*p as i64));
            }
            self.free.push(record.block);
        }
        if let Some(extra) = self.extra.remove(&key) {
            (life.traits, life.next_session) = extra;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn life(counts: &[u32], segments: &[Option<i64>]) -> Lifetime {
        let mut l = Lifetime::new(counts.len(), segments.len());
        l.sessions = 3;
        l.pageviews = 17;
        l.counts.copy_from_slice(counts);
        for (t, s) in l.customer_segments.iter_mut().zip(segments) {
            *t = s.map(SimTime);
        }
        l
    }

    /// `Store::take_into` a fresh lifetime sized for `store`.
    fn take(store: &mut Store, key: u128) -> Option<Lifetime> {
        let mut life = Lifetime::new(store.visitor_slots, store.customer_slots);
        store.take_into(key, &mut life).then_some(life)
    }

    fn same(a: &Lifetime, b: &Lifetime) {
        assert_eq!((a.sessions, a.pageviews), (b.sessions, b.pageviews));
        assert_eq!(a.counts, b.counts);
        assert_eq!(a.customer_segments, b.customer_segments);
        assert_eq!(a.traits, b.traits);
        assert_eq!(a.next_session, b.next_session);
    }

    #[test]
    fn a_plain_visitor_keeps_its_totals_and_no_block() {
        let mut store = Store::new(2, 1);
        store.insert(key("a"), &mut life(&[0, 0], &[None]));
        assert_eq!((store.len(), store.blocks), (1, 0));
        same(&take(&mut store, key("a")).expect("dormant"), &life(&[0, 0], &[None]));
        assert!(take(&mut store, key("a")).is_none() && store.is_empty());
    }

    #[test]
    fn counters_segments_traits_and_next_session_actions_round_trip() {
        // Negative times (before 1970) and zero must survive the u64 packing too.
        let mut store = Store::new(3, 4);
        let mut l = life(&[4, 0, u32::MAX], &[Some(-5), None, Some(0), Some(i64::MAX)]);
        l.traits.push((Sym(7), DynValue::from_text("gold")));
        l.next_session.push(ActionMapId(2));
        store.insert(key("b"), &mut l);
        // What the store took is cleared, the arrays kept for the next visitor.
        same(&l, &Lifetime::new(3, 4));
        let mut expected = life(&[4, 0, u32::MAX], &[Some(-5), None, Some(0), Some(i64::MAX)]);
        expected.traits.push((Sym(7), DynValue::from_text("gold")));
        expected.next_session.push(ActionMapId(2));
        same(&take(&mut store, key("b")).expect("dormant"), &expected);
        assert!(store.extra.is_empty());
    }

    #[test]
    fn visitors_sharing_the_first_64_bits_stay_apart() {
        let mut store = Store::new(1, 0);
        let (a, b) = (7u128 << 64 | 1, 7u128 << 64 | 2);
        store.insert(a, &mut life(&[1], &[]));
        store.insert(b, &mut life(&[2], &[]));
        assert_eq!((store.main.len(), store.side.len()), (1, 1));
        same(&take(&mut store, b).expect("b"), &life(&[2], &[]));
        store.insert(b, &mut life(&[3], &[]));
        same(&take(&mut store, a).expect("a"), &life(&[1], &[]));
        same(&take(&mut store, b).expect("b"), &life(&[3], &[]));
        assert!(store.is_empty());
    }

    #[test]
    fn a_revived_visitor_leaves_its_place_for_its_return_or_for_another() {
        let mut store = Store::new(1, 0);
        let (a, c) = (9u128 << 64 | 1, 9u128 << 64 | 3);
        store.insert(a, &mut life(&[1], &[]));
        same(&take(&mut store, a).expect("a"), &life(&[1], &[]));
        // The place stays, vacant: not a dormant visitor.
        assert_eq!((store.main.len(), store.len()), (1, 0));
        assert!(take(&mut store, a).is_none(), "a vacant place is nobody's");
        store.insert(a, &mut life(&[2], &[]));
        assert_eq!((store.main.len(), store.side.len(), store.len()), (1, 0, 1));
        same(&take(&mut store, a).expect("a, again"), &life(&[2], &[]));
        // A visitor sharing the first 64 bits may take the vacant place; `a` then goes aside.
        store.insert(c, &mut life(&[3], &[]));
        store.insert(a, &mut life(&[4], &[]));
        assert_eq!((store.main.len(), store.side.len(), store.len()), (1, 1, 2));
        same(&take(&mut store, a).expect("a, aside"), &life(&[4], &[]));
        same(&take(&mut store, c).expect("c"), &life(&[3], &[]));
        assert!(store.is_empty());
    }

    #[test]
    fn blocks_are_reused_and_chunks_added_as_needed() {
        let mut store = Store::new(1, 1);
        for i in 0..(CHUNK as u32 + 5) {
            store.insert(u128::from(i) << 64, &mut life(&[i + 1], &[Some(i64::from(i))]));
        }
        assert_eq!((store.chunks.len(), store.blocks), (2, CHUNK as u32 + 5));
        for i in [0u32, 3, CHUNK as u32 + 4] {
            same(&take(&mut store, u128::from(i) << 64).expect("dormant"), &life(&[i + 1], &[Some(i64::from(i))]));
        }
        store.insert(99u128 << 70, &mut life(&[9], &[None]));
        assert_eq!(store.blocks, CHUNK as u32 + 5, "a freed block is reused");
        same(&take(&mut store, 99u128 << 70).expect("dormant"), &life(&[9], &[None]));
        same(&take(&mut store, 1u128 << 64).expect("dormant"), &life(&[2], &[Some(1)]));
    }
}
