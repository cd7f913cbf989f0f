//! Reading and parsing recorded events on a second thread, for `pesim replay`.
//!
//! [`with_prefetch`] runs an [`EventReader`] on a background thread, which reads
//! and parses the input in batches of [`BATCH`] lines and hands them over a
//! bounded channel ([`DEPTH`] batches), while the calling thread runs the
//! engine. The consumer, [`Prefetched`], yields exactly the items
//! `EventReader::next_event` would, in the same order, and answers
//! [`Lines::line_text`] and [`Lines::lines_read`] as the reader would at the
//! same point of the stream, so that outputs and error messages do not depend
//! on which of the two is used. Memory stays bounded: at most `DEPTH + 2`
//! batches exist at once (one being filled, `DEPTH` queued, one being read).
//!
//! The reader thread stops at the end of the input, or at its next hand-over
//! once the consumer has gone (a replay that stops at an invalid line): the
//! channel's receiver is dropped and the send fails. It may have read up to a
//! batch further than the single-threaded reader would have; only a blocked
//! read (standard input with an idle writer) delays its end.

use std::io::BufRead;
use std::ops::Range;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use crate::config::Scenario;
use crate::config::model::Millis;
use crate::events::{Event, EventReader, LineError};

/// Lines per batch sent from the reader thread.
pub const BATCH: usize = 512;
/// Batches queued between the threads.
pub const DEPTH: usize = 4;

/// One line's outcome, as `EventReader::next_event` gives it: its 1-based number and the event or the error.
pub type Item = (u64, Result<Event, LineError>);

/// A source of event lines: [`EventReader`] itself, or [`Prefetched`].
pub trait Lines {
    /// The next non-blank line's event or error, `None` at the end.
    fn next_item(&mut self) -> Option<Item>;
    /// The text of the line of the item returned last (`""` after the end), for error messages.
    fn line_text(&self) -> &str;
    /// Lines read up to the item returned last, blank ones included; after the end, all of them.
    fn lines_read(&self) -> u64;
}

impl<R: BufRead> Lines for EventReader<'_, R> {
    fn next_item(&mut self) -> Option<Item> {
        self.next_event()
    }
    fn line_text(&self) -> &str {
        EventReader::line_text(self)
    }
    fn lines_read(&self) -> u64 {
        EventReader::lines_read(self)
    }
}

/// Consecutive items, with the text of each one's line.
struct Batch {
    items: Vec<Item>,
    /// Every item's line text (`EventReader::line_text` just after it was read), back to back.
    text: String,
    /// Where each item's text ends in `text`.
    ends: Vec<usize>,
    /// `lines_read()` after the input's end; only in the last batch.
    end_lines: Option<u64>,
}

/// The consumer's side: an iterator over the items the reader thread parsed.
pub struct Prefetched {
    rx: Receiver<Batch>,
    items: std::vec::IntoIter<Item>,
    text: String,
    ends: Vec<usize>,
    /// Index in the current batch of the next item.
    next: usize,
    /// The text of the item returned last, in `text`.
    last: Range<usize>,
    lines_read: u64,
    end_lines: Option<u64>,
}

impl Prefetched {
    fn new(rx: Receiver<Batch>) -> Self {
        Prefetched {
            rx,
            items: Vec::new().into_iter(),
            text: String::new(),
            ends: Vec::new(),
            next: 0,
            last: 0..0,
            lines_read: 0,
            end_lines: None,
        }
    }
}

impl Lines for Prefetched {
    fn next_item(&mut self) -> Option<Item> {
        loop {
            if let Some(item) = self.items.next() {
                let start = if self.next == 0 { 0 } else { self.ends[self.next - 1] };
                self.last = start..self.ends[self.next];
                self.next += 1;
                self.lines_read = item.0;
                return Some(item);
            }
            if let Some(total) = self.end_lines {
                // As the reader after its last read: no line text, every line counted.
                self.last = 0..0;
                self.lines_read = total;
                return None;
            }
            match self.rx.recv() {
                Ok(batch) => {
                    self.items = batch.items.into_iter();
                    self.text = batch.text;
                    self.ends = batch.ends;
                    self.next = 0;
                    self.end_lines = batch.end_lines;
                }
                // The reader thread ended without its last batch: it panicked, and
                // `with_prefetch` raises that panic once the consumer returns.
                Err(_) => self.end_lines = Some(self.lines_read),
            }
        }
    }

    fn line_text(&self) -> &str {
        &self.text[self.last.clone()]
    }

    fn lines_read(&self) -> u64 {
        self.lines_read
    }
}

impl Iterator for Prefetched {
    type Item = Item;
    fn next(&mut self) -> Option<Item> {
        self.next_item()
    }
}

/// The reader thread: batches of items until the input ends or the consumer is gone.
fn produce<R: BufRead>(sc: &Scenario, input: R, max_gap: Option<Millis>, tx: SyncSender<Batch>) {
    let mut reader = EventReader::new(sc, input).max_gap(max_gap);
    let mut text_capacity = 0;
    loop {
        let mut batch = Batch {
            items: Vec::with_capacity(BATCH),
            text: String::with_capacity(text_capacity),
            ends: Vec::with_capacity(BATCH),
            end_lines: None,
        };
        while batch.items.len() < BATCH {
            let Some(item) = reader.next_event() else {
                batch.end_lines = Some(reader.lines_read());
                break;
            };
            batch.text.push_str(reader.line_text());
            batch.ends.push(batch.text.len());
            batch.items.push(item);
        }
        text_capacity = text_capacity.max(batch.text.len());
        let last = batch.end_lines.is_some();
        if tx.send(batch).is_err() || last {
            return;
        }
    }
}

/// Runs `consume` on the events of `input`, read and parsed by a second thread.
///
/// `consume` sees the same items, line texts and line counts as it would with
/// `EventReader::new(sc, input).max_gap(max_gap)`. When it returns, the reader thread is told to
/// stop (if it has not reached the end) and joined; a panic on it is raised here.
/// If the system will not start a thread, the events are read on this one, as
/// with `--threads 1`: the outputs are the same either way.
pub fn with_prefetch<R, T>(
    sc: &Scenario,
    input: R,
    max_gap: Option<Millis>,
    consume: impl FnOnce(&mut dyn Lines) -> T,
) -> T
where
    R: BufRead + Send,
{
    // The reader thread takes the input from here; a spawn that fails leaves it.
    let slot = std::sync::Mutex::new(Some(input));
    let take = || slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
    std::thread::scope(|scope| {
        let (tx, rx) = sync_channel(DEPTH);
        let spawned = std::thread::Builder::new().name("pesim-reader".into()).spawn_scoped(scope, move || {
            if let Some(input) = take() {
                produce(sc, input, max_gap, tx);
            }
        });
        let Ok(reader) = spawned else {
            let input = take().expect("a thread that did not start took nothing");
            return consume(&mut EventReader::new(sc, input).max_gap(max_gap));
        };
        let mut events = Prefetched::new(rx);
        let result = consume(&mut events);
        // Dropping the receiver makes the reader's next send fail, so it ends.
        drop(events);
        if let Err(panic) = reader.join() {
            std::panic::resume_unwind(panic);
        }
        result
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::DEFAULT_MAX_GAP;

    fn scenario() -> Scenario {
        let loaded = crate::config::load_str("t.yaml", "name: t\n");
        loaded.scenario.expect("the test scenario loads")
    }

    /// Everything a consumer can observe, item by item, then at the end.
    fn observe(src: &mut dyn Lines) -> Vec<String> {
        let mut seen = Vec::new();
        while let Some((line, item)) = src.next_item() {
            seen.push(format!("{line} {:?} {:?} {}", item.map(|e| e.time), src.line_text(), src.lines_read()));
        }
        seen.push(format!("end {:?} {}", src.line_text(), src.lines_read()));
        seen
    }

    #[test]
    fn same_items_texts_and_counts_as_the_reader() {
        let sc = scenario();
        // A byte-order mark, blank lines, bad JSON, bad UTF-8, a line back in time, CRLF.
        let mut text = "\u{feff}".as_bytes().to_vec();
        for i in 0..(3 * BATCH + 7) {
            let line = match i % 7 {
                0 => Vec::new(),
                1 => b"{not json\r".to_vec(),
                2 => b"{\"createdDate\": \"\xff\"}".to_vec(),
                3 => br#"{"createdDate":"2026-01-05T11:00:00Z","customerCookieId":"c","eventName":"x"}"#.to_vec(),
                _ => format!(
                    r#"{{"createdDate":"2026-01-05T12:{:02}:{:02}Z","customerCookieId":"c{i}","eventName":"x"}}\r"#,
                    (i / 60) % 60,
                    i % 60
                )
                .into_bytes(),
            };
            text.extend_from_slice(&line);
            text.push(b'\n');
        }
        text.extend_from_slice(b"   \n\n");
        let direct = observe(&mut EventReader::new(&sc, &text[..]));
        let prefetched = with_prefetch(&sc, &text[..], Some(DEFAULT_MAX_GAP), |p| observe(p));
        assert_eq!(direct, prefetched);
        assert!(direct.len() > 2 * BATCH);
    }

    #[test]
    fn stopping_early_ends_the_reader() {
        let sc = scenario();
        let line = r#"{"createdDate":"2026-01-05T12:00:00Z","customerCookieId":"c","eventName":"x"}"#;
        let text = format!("{line}\n").repeat(BATCH * (DEPTH + 4));
        let first = with_prefetch(&sc, text.as_bytes(), Some(DEFAULT_MAX_GAP), |p| p.next_item().map(|(line, _)| line));
        assert_eq!(first, Some(1));
    }

    #[test]
    fn empty_input() {
        let sc = scenario();
        assert_eq!(with_prefetch(&sc, &b""[..], Some(DEFAULT_MAX_GAP), |p| observe(p)), ["end \"\" 0"]);
    }
}
