//! The run's order of items (SPEC §6, refined so shards can keep it apart):
//! a [`Key`] per tracking event and timer, and a timer heap ordered by it.
//!
//! At one instant, tracking events come first, in input order; then timers,
//! by their owner (a visitor shard, then the contact center) and, within an
//! owner, in the order they were scheduled. The owner comes before the
//! scheduling order because a shard numbers its own timers: a global number
//! would depend on how the shards' work interleaved, so on the thread count.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::clock::SimTime;

/// Where an item falls in the run. Unique: an event by its input position,
/// a timer by its owner and that owner's count of timers scheduled. Packed in
/// two words (heaps and merges move and compare many of them): the time, then
/// a tie-break whose top bit says timer, with the owner in the next six bits
/// and the count in the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub time: SimTime,
    tie: u64,
}

const TIMER: u64 = 1 << 63;
const OWNER_SHIFT: u32 = 57;
const OWNER_MASK: u64 = 0x3F;

impl Key {
    /// The `n`th tracking event (or answer) of the input.
    pub fn event(time: SimTime, n: u64) -> Key {
        debug_assert!(n < TIMER, "2^63 input steps");
        Key { time, tie: n }
    }

    /// A timer of `owner` (a shard's index; the contact center's is the
    /// largest), its `seq`th.
    pub fn timer(time: SimTime, owner: u32, seq: u64) -> Key {
        debug_assert!(u64::from(owner) <= OWNER_MASK && seq < 1 << OWNER_SHIFT, "owner {owner}, timer {seq}");
        Key { time, tie: TIMER | u64::from(owner) << OWNER_SHIFT | seq }
    }

    /// Before every item at `time`: the bound of an interval that ends there.
    pub fn start(time: SimTime) -> Key {
        Key { time, tie: 0 }
    }

    /// The shard that owns a timer's key.
    pub fn owner(self) -> u32 {
        debug_assert!(self.tie & TIMER != 0);
        ((self.tie >> OWNER_SHIFT) & OWNER_MASK) as u32
    }
}

/// Pending timers by key; their payloads stay in place in a slab, so the
/// heap moves only keys and the steady state allocates nothing.
#[derive(Debug)]
pub struct Timers<T> {
    heap: BinaryHeap<Reverse<(Key, u32)>>,
    slots: Vec<Option<T>>,
    free: Vec<u32>,
}

impl<T> Default for Timers<T> {
    fn default() -> Self {
        Timers { heap: BinaryHeap::new(), slots: Vec::new(), free: Vec::new() }
    }
}

impl<T> Timers<T> {
    pub fn push(&mut self, key: Key, item: T) {
        let slot = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(item);
                i
            }
            None => {
                self.slots.push(Some(item));
                (self.slots.len() - 1) as u32
            }
        };
        self.heap.push(Reverse((key, slot)));
    }

    /// The first key, if it comes before `bound`.
    pub fn peek_before(&self, bound: Key) -> Option<Key> {
        self.heap.peek().map(|Reverse((k, _))| *k).filter(|k| *k < bound)
    }

    pub fn peek(&self) -> Option<Key> {
        self.heap.peek().map(|Reverse((k, _))| *k)
    }

    pub fn pop(&mut self) -> Option<(Key, T)> {
        let Reverse((key, slot)) = self.heap.pop()?;
        let item = self.slots[slot as usize].take().expect("each slot is popped once");
        self.free.push(slot);
        Some((key, item))
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_come_before_timers_at_one_instant_and_owners_before_scheduling_order() {
        let t = SimTime(10);
        let mut keys = [
            Key::timer(t, 1, 0),
            Key::timer(t, 0, 9),
            Key::event(t, 7),
            Key::event(t, 3),
            Key::timer(SimTime(9), 5, 5),
        ];
        keys.sort();
        assert_eq!(
            keys,
            [
                Key::timer(SimTime(9), 5, 5),
                Key::event(t, 3),
                Key::event(t, 7),
                Key::timer(t, 0, 9),
                Key::timer(t, 1, 0)
            ]
        );
        assert!(Key::start(t) <= Key::event(t, 0));
        assert!(Key::timer(SimTime(9), 63, (1 << 57) - 1) < Key::start(t));
        assert_eq!(Key::timer(t, 16, 5).owner(), 16);
        assert_eq!(std::mem::size_of::<Key>(), 16);
    }

    #[test]
    fn timers_pop_in_key_order_and_reuse_their_slots() {
        let mut timers = Timers::default();
        timers.push(Key::timer(SimTime(5), 0, 2), "b");
        timers.push(Key::timer(SimTime(5), 0, 1), "a");
        timers.push(Key::timer(SimTime(7), 0, 3), "c");
        assert_eq!(timers.peek_before(Key::start(SimTime(5))), None);
        assert_eq!(timers.pop().map(|(_, x)| x), Some("a"));
        timers.push(Key::timer(SimTime(6), 0, 4), "d");
        assert_eq!(timers.slots.len(), 3, "the popped slot is reused");
        let order: Vec<_> = std::iter::from_fn(|| timers.pop().map(|(_, x)| x)).collect();
        assert_eq!(order, ["b", "d", "c"]);
        assert!(timers.is_empty());
    }
}
