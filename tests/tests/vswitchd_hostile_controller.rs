//! OpenFlow connections that misbehave, against the real ferrovs-vswitchd
//! (issue 20's discipline applied to the OpenFlow listener): while hostile
//! connections run on a bridge's management socket, a well-behaved
//! connection sends an echo request every 10 ms and `ovs-ofctl` keeps
//! working; the switch's memory stays bounded.
//!
//! The hostile connections:
//! - one pipelines 64 KiB echo requests and never reads the replies (the
//!   switch stops reading it once its output backlog is full);
//! - one floods malformed messages (each answered by an OFPT_ERROR it
//!   never reads);
//! - one sends the start of a 64 KiB message and stalls;
//! - twenty more each pipeline echo requests without reading.
//!
//! The same runs against Debian's ovs-vswitchd and both are printed;
//! only ferrovs's figures are asserted.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrovs_tests::ferrovs_vswitchd::FerrovsVswitchd;
use ferrovs_tests::ovs_vswitchd::OvsVswitchd;
use ferrovs_tests::ovsdb_hostile::rss_mib;

const OF13: u8 = 4;
const HELLO: u8 = 0;
const ECHO_REQUEST: u8 = 2;
const ECHO_REPLY: u8 = 3;

fn header(ty: u8, len: usize, xid: u32) -> Vec<u8> {
    let mut m = vec![OF13, ty];
    m.extend_from_slice(&(len as u16).to_be_bytes());
    m.extend_from_slice(&xid.to_be_bytes());
    m
}

fn read_msg(s: &mut UnixStream) -> std::io::Result<Vec<u8>> {
    let mut h = [0u8; 8];
    s.read_exact(&mut h)?;
    let len = u16::from_be_bytes([h[2], h[3]]) as usize;
    let mut m = h.to_vec();
    m.resize(len.max(8), 0);
    s.read_exact(&mut m[8..])?;
    Ok(m)
}

/// Writes `msg` over and over until `stop` or until a write stays blocked
/// for `stall`; bytes written.
fn pipeline(mut s: UnixStream, msg: Vec<u8>, stop: Arc<AtomicBool>, stall: Duration) -> usize {
    s.set_write_timeout(Some(stall)).unwrap();
    let mut sent = 0;
    while !stop.load(Ordering::Relaxed) {
        match s.write(&msg) {
            Ok(n) => sent += n,
            Err(_) => break,
        }
    }
    // Keep the connection open (and unread) until the test ends.
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(20));
    }
    sent
}

/// What one run saw.
#[derive(Debug)]
struct Outcome {
    probes: u32,
    worst: Duration,
    p50: Duration,
    rss0: f64,
    peak: f64,
    /// Bytes of echo requests the 21 never-reading connections got in.
    echo_sent: usize,
    junk_sent: usize,
}

/// Runs the hostile connections against the management socket `sock` of
/// the switch `pid` for 8 s while probing with a good connection.
fn play(sock: &Path, pid: u32) -> Outcome {
    let connect = || {
        let mut s = UnixStream::connect(sock).expect("mgmt socket");
        s.write_all(&header(HELLO, 8, 0)).unwrap();
        s
    };
    let rss0 = rss_mib(pid);
    let mut good = connect();
    good.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    assert_eq!(read_msg(&mut good).unwrap()[1], HELLO);

    let stop = Arc::new(AtomicBool::new(false));
    let mut hostile = Vec::new();
    // Big echo requests, never read.
    let mut echo = header(ECHO_REQUEST, 65535, 7);
    echo.resize(65535, 0xab);
    for _ in 0..21 {
        let (s, m, st) = (connect(), echo.clone(), stop.clone());
        hostile.push(std::thread::spawn(move || {
            pipeline(s, m, st, Duration::from_secs(3))
        }));
    }
    // Malformed messages: a bad version, an unknown type.
    let mut junk = Vec::new();
    for i in 0..1000u32 {
        junk.extend_from_slice(&[0x7f, 0, 0, 8]);
        junk.extend_from_slice(&i.to_be_bytes());
        junk.extend_from_slice(&header(200, 16, i));
        junk.extend_from_slice(&[0; 8]);
    }
    {
        let (s, st) = (connect(), stop.clone());
        hostile.push(std::thread::spawn(move || {
            pipeline(s, junk, st, Duration::from_secs(3))
        }));
    }
    // A message that never ends.
    let mut stalled = connect();
    let mut start = header(ECHO_REQUEST, 65535, 9);
    start.extend_from_slice(&[1; 100]);
    stalled.write_all(&start).unwrap();

    let t = Instant::now();
    let (mut worst, mut probes) = (Duration::ZERO, 0u32);
    let mut all = Vec::new();
    let mut peak = rss0;
    while t.elapsed() < Duration::from_secs(8) {
        let sent = Instant::now();
        let xid = 1000 + probes;
        good.write_all(&header(ECHO_REQUEST, 8, xid)).unwrap();
        loop {
            let m = read_msg(&mut good).expect("echo reply to the good connection");
            if m[1] == ECHO_REPLY {
                assert_eq!(&m[4..8], &xid.to_be_bytes());
                break;
            }
        }
        all.push(sent.elapsed());
        worst = worst.max(sent.elapsed());
        probes += 1;
        peak = peak.max(rss_mib(pid));
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::Relaxed);
    let sent: Vec<usize> = hostile.into_iter().map(|h| h.join().unwrap()).collect();
    drop(stalled);
    all.sort();
    Outcome {
        probes,
        worst,
        p50: all.get(all.len() / 2).copied().unwrap_or_default(),
        rss0,
        peak,
        echo_sent: sent[..21].iter().sum(),
        junk_sent: sent[21],
    }
}

#[test]
fn controllers_that_never_read_slow_no_one_and_memory_stays_bounded() {
    let add_br = |b: &'static str| {
        [
            "add-br",
            b,
            "--",
            "set",
            "bridge",
            b,
            "datapath_type=netdev",
        ]
    };
    let fv = FerrovsVswitchd::start().unwrap();
    fv.vsctl_ok(&add_br("br0"));
    fv.wait_for(&fv.mgmt_socket("br0")).unwrap();
    let ours = play(&fv.mgmt_socket("br0"), fv.pid().expect("switch pid"));
    // Debian's OVS on the same input, for the record (not asserted).
    let ovs = OvsVswitchd::start("br0").unwrap();
    let theirs = play(&ovs.mgmt_socket(), ovs.pid().expect("ovs-vswitchd pid"));
    for (who, o) in [("ferrovs", &ours), ("ovs", &theirs)] {
        eprintln!(
            "{who}: probes {}, echo median {:?} worst {:?}, RSS {:.1} -> peak {:.1} MiB, \
             echo bytes accepted from never-reading connections {}, junk bytes {}",
            o.probes, o.p50, o.worst, o.rss0, o.peak, o.echo_sent, o.junk_sent
        );
    }
    let o = &ours;
    assert!(o.probes > 100, "only {} probes in 8 s", o.probes);
    assert!(
        o.worst < Duration::from_millis(1500),
        "worst echo {:?}",
        o.worst
    );
    // 22 connections, each at most ~1 MiB of queued output, 1 MiB of
    // input and a 64 KiB read buffer.
    assert!(
        o.peak - o.rss0 < 80.0,
        "RSS grew {:.1} -> {:.1} MiB",
        o.rss0,
        o.peak
    );
    assert!(
        o.echo_sent < (21 * 8) << 20,
        "the switch kept reading {} bytes from connections that never read",
        o.echo_sent
    );
    // The tools still work, and the switch still takes configuration.
    let out = fv.ofctl(&["-O", "OpenFlow13"], "dump-flows", "br0", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    fv.vsctl_ok(&add_br("br1"));
    let out = fv.ofctl(&["-O", "OpenFlow13"], "show", "br1", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
