//! Parallelism for the CPU-bound part of bulk writes (validation and index extraction), so
//! that the single store writer only does what must be serial: [`pipeline`] prepares items on
//! worker threads while the calling thread consumes them in order.

use std::collections::HashMap;
use std::sync::{mpsc, Mutex};

/// Below this many items per thread, spawning costs more than it saves.
const MIN_ITEMS_PER_THREAD: usize = 8;

/// Calls `consume(i, prepare(item_i))` for every item, in item order, on the calling thread,
/// while worker threads run `prepare` ahead of it (one worker per core beyond the caller's,
/// at least one). The first error of `consume` stops the run and is returned; workers then
/// stop at their next item. A panic in `prepare` propagates to the caller. Few items are
/// prepared inline, without threads.
pub fn pipeline<I: Send, O: Send, E>(
    items: Vec<I>,
    prepare: impl Fn(I) -> O + Sync,
    mut consume: impl FnMut(usize, O) -> Result<(), E>,
) -> Result<(), E> {
    let n = items.len();
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    if cores == 1 || n < 2 * MIN_ITEMS_PER_THREAD {
        for (i, item) in items.into_iter().enumerate() {
            consume(i, prepare(item))?;
        }
        return Ok(());
    }
    let workers = (cores - 1).max(1);
    let queue = Mutex::new(items.into_iter().enumerate());
    let prepare = &prepare;
    std::thread::scope(|scope| {
        let (sender, receiver) = mpsc::channel::<(usize, O)>();
        for _ in 0..workers {
            let sender = sender.clone();
            let queue = &queue;
            scope.spawn(move || loop {
                let next = match queue.lock() {
                    Ok(mut q) => q.next(),
                    Err(_) => None,
                };
                let Some((i, item)) = next else { break };
                if sender.send((i, prepare(item))).is_err() {
                    break;
                }
            });
        }
        drop(sender);
        let mut ready: HashMap<usize, O> = HashMap::new();
        for i in 0..n {
            let out = loop {
                if let Some(o) = ready.remove(&i) {
                    break Some(o);
                }
                match receiver.recv() {
                    Ok((j, o)) => {
                        ready.insert(j, o);
                    }
                    // Every worker is gone without item `i`: one panicked, and leaving the
                    // scope re-raises that panic.
                    Err(_) => break None,
                }
            };
            match out {
                Some(o) => consume(i, o)?,
                None => break,
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::pipeline;

    #[test]
    fn pipeline_consumes_in_order_and_stops_at_the_first_error() {
        for n in [0usize, 3, 15, 16, 200] {
            let mut seen = Vec::new();
            let r: Result<(), ()> = pipeline(
                (0..n).collect(),
                |x| x * 3,
                |i, o| {
                    seen.push((i, o));
                    Ok(())
                },
            );
            assert!(r.is_ok());
            assert_eq!(seen, (0..n).map(|i| (i, i * 3)).collect::<Vec<_>>(), "{n}");
        }
        let mut consumed = 0;
        let r = pipeline(
            (0..100).collect::<Vec<usize>>(),
            |x| x,
            |i, _| {
                consumed += 1;
                if i == 40 {
                    Err(i)
                } else {
                    Ok(())
                }
            },
        );
        assert_eq!((r, consumed), (Err(40), 41));
    }
}
