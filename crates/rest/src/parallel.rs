//! Data parallelism for the CPU-bound part of bulk writes (validation and index extraction):
//! the items are split into one contiguous chunk per core and processed on scoped threads, so
//! the single store writer only does what must be serial.

/// Below this many items per thread, spawning costs more than it saves.
const MIN_ITEMS_PER_THREAD: usize = 8;

/// Applies `f` to every item, on up to `std::thread::available_parallelism()` threads. The
/// result is the same as a sequential loop (each item is touched by exactly one call); a panic
/// in `f` propagates to the caller once every thread has stopped.
pub fn for_each_mut<T: Send>(items: &mut [T], f: impl Fn(&mut T) + Sync) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = cores.min(items.len() / MIN_ITEMS_PER_THREAD).max(1);
    if threads == 1 {
        items.iter_mut().for_each(f);
        return;
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let mut chunks = items.chunks_mut(chunk);
        // The calling thread takes the first chunk itself.
        let first = chunks.next();
        for c in chunks {
            scope.spawn(move || c.iter_mut().for_each(f));
        }
        if let Some(c) = first {
            c.iter_mut().for_each(f);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::for_each_mut;

    #[test]
    fn touches_every_item_once() {
        for n in [0usize, 1, 7, 8, 17, 100, 1001] {
            let mut items: Vec<(usize, u32)> = (0..n).map(|i| (i, 0)).collect();
            for_each_mut(&mut items, |(i, count)| {
                *count += 1;
                *i *= 2;
            });
            assert!(
                items
                    .iter()
                    .enumerate()
                    .all(|(k, &(i, c))| i == 2 * k && c == 1),
                "{n}"
            );
        }
    }
}
