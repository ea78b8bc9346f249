//! Order-preserving parallel map over slices, on every core, with scoped
//! threads (no global pool, nothing shared but what the closure borrows).
//! Results come back in input order, so parallelism never shows in output.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// `items.iter().map(f).collect()`, spread over the available cores.
///
/// Workers take small batches from a shared counter until none is left, so
/// that a slow item (a big service) or a busy core holds up one batch, not a
/// fixed half of the work.
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = cores().min(items.len());
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let batch = (items.len() / (threads * 8)).clamp(1, 64);
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done: Vec<(usize, Vec<R>)> = Vec::new();
        loop {
            let start = next.fetch_add(batch, Ordering::Relaxed);
            if start >= items.len() {
                return done;
            }
            let end = (start + batch).min(items.len());
            done.push((start, items.get(start..end).unwrap_or_default().iter().map(&f).collect()));
        }
    };
    let mut batches: Vec<(usize, Vec<R>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        let mut all = work();
        for h in handles {
            // A panicking worker is a bug in platc; re-raise it on this thread.
            all.extend(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        }
        all
    });
    batches.sort_unstable_by_key(|(start, _)| *start);
    // Sized up front: growing it by doubling would copy (and fault in) the
    // results several times over.
    let mut out = Vec::with_capacity(items.len());
    for (_, rs) in batches {
        out.extend(rs);
    }
    out
}

/// The number of cores to use, asked of the system once per process.
fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    // How many cores decides only how the work is spread, never a result.
    #[allow(clippy::disallowed_methods)]
    *CORES.get_or_init(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_order() {
        let v: Vec<u32> = (0..1000).collect();
        assert_eq!(super::map(&v, |x| x * 2), v.iter().map(|x| x * 2).collect::<Vec<_>>());
        assert!(super::map(&Vec::<u32>::new(), |x| *x).is_empty());
        let odd: Vec<u32> = (0..1013).collect();
        assert_eq!(super::map(&odd, |x| x + 1), odd.iter().map(|x| x + 1).collect::<Vec<_>>());
    }
}
