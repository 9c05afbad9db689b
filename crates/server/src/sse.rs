//! Progress streams: server-sent events made by polling the engine. A job or a training runs
//! in its own thread and records its progress; a watcher's stream reads that record every
//! interval and sends what changed, so a slow or vanished watcher never holds the work up.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::{Stream, stream};
use serde::Serialize;
use vitrine_engine::Engine;

use crate::AppState;

/// What one reading of the record makes: the events to send, and whether the stream ends
/// after them.
pub(crate) struct Turn {
    pub(crate) events: Vec<Event>,
    pub(crate) end: bool,
}

/// The `turn` of a training's stream, starting after `first`: an `epoch` event (the record) for
/// each epoch finished since the last reading, `progress` (the training) when its `updates`
/// count moved, and `end` (the training) once it no longer runs.
pub(crate) fn training_turn<T, E>(
    first: &T,
    history: fn(&T) -> &[E],
    updates: fn(&T) -> u64,
    running: fn(&T) -> bool,
) -> impl FnMut(T) -> Turn + Send + use<T, E>
where
    T: Serialize,
    E: Serialize,
{
    let mut sent_updates: Option<u64> = None;
    let mut epochs = history(first).len();
    move |training: T| {
        let mut events = Vec::new();
        for record in history(&training).iter().skip(epochs) {
            let data = serde_json::to_string(record).unwrap_or_default();
            events.push(Event::default().event("epoch").data(data));
        }
        epochs = epochs.max(history(&training).len());
        let data = serde_json::to_string(&training).unwrap_or_default();
        let end = !running(&training);
        if end {
            events.push(Event::default().event("end").data(data));
        } else if sent_updates != Some(updates(&training)) {
            sent_updates = Some(updates(&training));
            events.push(Event::default().event("progress").data(data));
        }
        Turn { events, end }
    }
}

/// Events from reading `read` every `every` (at once for the first reading, which is `first`
/// when the handler has already read it to answer 404 before the stream opens). `turn` makes
/// each reading's events. An engine error ends the stream with an `error` event carrying the
/// usual JSON error body.
pub(crate) fn polled<T, R, F>(
    state: AppState,
    every: Duration,
    first: Option<T>,
    read: R,
    turn: F,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>>
where
    T: Send + 'static,
    R: Fn(&Engine) -> vitrine_engine::Result<T> + Clone + Send + Sync + 'static,
    F: FnMut(T) -> Turn + Send + 'static,
{
    struct Watch<T, R, F> {
        state: AppState,
        read: R,
        turn: F,
        first: Option<T>,
        /// Whether a reading was made yet (the first is not waited for).
        started: bool,
        queue: VecDeque<Event>,
        ended: bool,
    }
    let watch = Watch {
        state,
        read,
        turn,
        first,
        started: false,
        queue: VecDeque::new(),
        ended: false,
    };
    let events = stream::unfold(watch, move |mut w| async move {
        loop {
            if let Some(event) = w.queue.pop_front() {
                return Some((Ok(event), w));
            }
            if w.ended {
                return None;
            }
            let reading = match w.first.take() {
                Some(first) => Ok(first),
                None => {
                    if w.started {
                        tokio::time::sleep(every).await;
                    }
                    let read = w.read.clone();
                    w.state.engine(move |engine| read(engine)).await
                }
            };
            w.started = true;
            match reading {
                Ok(reading) => {
                    let Turn { events, end } = (w.turn)(reading);
                    w.queue.extend(events);
                    w.ended = end;
                }
                Err(e) => {
                    let body = serde_json::to_string(&e.body()).unwrap_or_default();
                    w.queue
                        .push_back(Event::default().event("error").data(body));
                    w.ended = true;
                }
            }
        }
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}
