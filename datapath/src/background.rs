//! Threads that do deferred housekeeping (freeing a large delete's rules,
//! for one) run as idle work, so that on a small machine they take CPU
//! only when nothing else wants it: not from the PMDs, and not from the
//! client whose request made the garbage.
//!
//! Nice 19 alone is not enough: a nice-19 thread keeps its CPU until its
//! time slice ends (about 1.5 ms on two CPUs) when a normal thread wakes
//! there, and a request/reply client wakes many times per command.
//! `SCHED_IDLE` is preempted at once by any normal thread that wakes.

/// Makes the calling thread `SCHED_IDLE` (and nice 19, should the policy
/// be refused). On Linux both are per thread, so the rest of the process
/// keeps its priority. Failures are ignored: lowering one's own priority
/// needs no privilege.
pub fn lower_this_thread() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: sched_setscheduler reads `param`, which lives across the
    // call; pid 0 names the calling thread. setpriority only reads its
    // integer arguments; who = 0 with PRIO_PROCESS is the calling thread.
    unsafe {
        libc::sched_setscheduler(0, libc::SCHED_IDLE, &param);
        libc::setpriority(libc::PRIO_PROCESS, 0, 19);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn lowers_only_the_calling_thread() {
        // SAFETY: these only read their integer arguments.
        let policy = || unsafe { libc::sched_getscheduler(0) };
        let nice = || unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        let before = (policy(), nice());
        let in_thread = std::thread::spawn(move || {
            super::lower_this_thread();
            (policy(), nice())
        })
        .join()
        .unwrap();
        assert_eq!(in_thread, (libc::SCHED_IDLE, 19));
        assert_eq!((policy(), nice()), before);
    }
}
