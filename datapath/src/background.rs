//! Threads that do deferred housekeeping (freeing a large delete's rules,
//! for one) run at the lowest priority, so that on a small machine they
//! take CPU only when nothing else wants it: not from the PMDs, and not
//! from the client whose request made the garbage.

/// Lowers the calling thread to nice 19. On Linux the nice value is per
/// thread, so the rest of the process keeps its priority. Failure (no
/// permission is needed to lower one's own priority) is ignored.
pub fn lower_this_thread() {
    // SAFETY: setpriority only reads its integer arguments; who = 0 with
    // PRIO_PROCESS names the calling thread.
    let _ = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 19) };
}

#[cfg(test)]
mod tests {
    #[test]
    fn lowers_only_the_calling_thread() {
        // SAFETY: getpriority only reads its integer arguments.
        let nice = || unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        let before = nice();
        let in_thread = std::thread::spawn(move || {
            super::lower_this_thread();
            nice()
        })
        .join()
        .unwrap();
        assert_eq!(in_thread, 19);
        assert_eq!(nice(), before);
    }
}
