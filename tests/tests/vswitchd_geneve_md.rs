//! Geneve options against Debian's OVS 3.1: the same bridges (an underlay
//! `br0` holding 198.18.2.88/24, `br-int` with a VM port and a Geneve
//! port), the same TLV map (`tun_metadata0` a 4-byte option, critical;
//! `tun_metadata1` an 8-byte one) and flows that set and match
//! `tun_metadata`. `ofproto/trace` must print the same datapath actions
//! (the `tnl_push` header with its options, the output of a packet whose
//! option matched, the drop of one whose option did not), and the same
//! ECN bits inherited on encapsulation. Port numbers
//! are named before comparing. (The `Megaflow:` lines are printed, not
//! compared: ferrovs's trace megaflow text leaves out the tunnel fields.)

use ferrovs_tests::ferrovs_vswitchd::FerrovsVswitchd;
use ferrovs_tests::ovs_vswitchd::OvsVswitchd;

const TLV: &str =
    "{class=0xffff,type=0x80,len=4}->tun_metadata0,{class=0x102,type=0x1,len=8}->tun_metadata1";

const FLOWS: &[&str] = &[
    "priority=10,in_port=1,dl_dst=50:54:00:00:00:02,actions=set_field:0x1a->tun_metadata0,output:4",
    "priority=10,in_port=1,dl_dst=50:54:00:00:00:03,actions=set_field:0x1a->tun_metadata0,set_field:0x1234567890->tun_metadata1,output:4",
    "priority=10,in_port=1,dl_dst=50:54:00:00:00:04,actions=output:4",
    "priority=10,in_port=4,tun_metadata0=0xa/0xf,actions=output:1",
    "priority=5,in_port=4,actions=drop",
];

fn steps() -> Vec<Vec<&'static str>> {
    vec![
        vec![
            "set",
            "bridge",
            "br0",
            "fail_mode=standalone",
            "other-config:hwaddr=aa:55:aa:55:00:00",
            "--",
            "add-port",
            "br0",
            "p0",
            "--",
            "set",
            "Interface",
            "p0",
            "type=dummy",
            "ofport_request=1",
        ],
        vec![
            "add-br",
            "br-int",
            "--",
            "set",
            "bridge",
            "br-int",
            "datapath_type=netdev",
            "fail_mode=secure",
            "--",
            "add-port",
            "br-int",
            "p1",
            "--",
            "set",
            "Interface",
            "p1",
            "type=dummy",
            "ofport_request=1",
            "--",
            "add-port",
            "br-int",
            "t3",
            "--",
            "set",
            "Interface",
            "t3",
            "type=geneve",
            "options:remote_ip=198.18.2.93",
            "options:key=789",
            "ofport_request=4",
        ],
    ]
}

/// The `Datapath actions:` line with datapath port numbers named, and the
/// `Megaflow:` line.
fn lines(trace: &str, dp_names: &[(String, String)]) -> (String, String) {
    let get = |p: &str| {
        trace
            .lines()
            .find_map(|l| l.strip_prefix(p))
            .unwrap_or("")
            .trim()
            .to_string()
    };
    let mut acts = get("Datapath actions:");
    // tnl_port(N) / out_port(N) / a bare output number: name them.
    for (no, name) in dp_names {
        acts = acts
            .replace(&format!("tnl_port({no})"), &format!("tnl_port({name})"))
            .replace(&format!("out_port({no})"), &format!("out_port({name})"));
        let parts: Vec<String> = acts
            .split(',')
            .map(|p| if p == no { name.clone() } else { p.to_string() })
            .collect();
        acts = parts.join(",");
    }
    (acts, get("Megaflow:"))
}

/// dp port number -> name from `dpif/show` (tunnel ports by their shared
/// datapath port's name).
fn names(dpif_show: &str) -> Vec<(String, String)> {
    dpif_show
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let name = w.next()?;
            let nums = w.next()?.strip_suffix(':')?;
            let (_, dp) = nums.split_once('/')?;
            let name = if l.contains("(geneve") {
                "genev_sys_6081"
            } else {
                name
            };
            Some((dp.to_string(), name.to_string()))
        })
        .collect()
}

#[test]
fn geneve_options_trace_matches_ovs() {
    let ovs = OvsVswitchd::start_dummy("br0").unwrap();
    let fv = FerrovsVswitchd::start().unwrap();
    fv.vsctl_ok(&[
        "add-br",
        "br0",
        "--",
        "set",
        "bridge",
        "br0",
        "datapath_type=netdev",
    ]);
    for s in steps() {
        ovs.vsctl(&s).unwrap();
        fv.vsctl_ok(&s);
    }
    for ns in [ovs.netns(), fv.netns()] {
        ns.exec(&["ip", "addr", "add", "198.18.2.88/24", "dev", "br0"])
            .unwrap();
        ns.exec(&["ip", "link", "set", "br0", "up"]).unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let ovs_appctl = |a: &[&str]| ovs.appctl(a).unwrap_or_else(|e| panic!("OVS {a:?}: {e}"));
    let fv_appctl = |a: &[&str]| fv.appctl_ok(a);
    for appctl in [&ovs_appctl as &dyn Fn(&[&str]) -> String, &fv_appctl] {
        assert_eq!(appctl(&["ovs/route/add", "198.18.2.93/24", "br0"]), "OK\n");
        assert_eq!(
            appctl(&["tnl/arp/set", "br0", "198.18.2.93", "f8:bc:12:44:34:b7"]),
            "OK\n"
        );
    }
    let mgmt = ovs.dir().join("br-int.mgmt");
    ovs.ofctl_on(&mgmt, &[], "add-tlv-map", &[TLV]).unwrap();
    let out = fv.ofctl(&[], "add-tlv-map", "br-int", &[TLV]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in FLOWS {
        ovs.ofctl_on(&mgmt, &[], "add-flow", &[f]).unwrap();
        let out = fv.ofctl(&[], "add-flow", "br-int", &[f]);
        assert!(
            out.status.success(),
            "{f}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (on, fnm) = (
        names(&ovs_appctl(&["dpif/show"])),
        names(&fv_appctl(&["dpif/show"])),
    );
    let eth = |d: u8| format!("dl_src=50:54:00:00:00:01,dl_dst=50:54:00:00:00:0{d}");
    let tun = "tun_id=789,tun_src=198.18.2.93,tun_dst=198.18.2.88";
    let traces = [
        // Encapsulation: one option, two options, none.
        format!(
            "in_port=1,{},ip,nw_src=198.18.5.1,nw_dst=198.18.5.2",
            eth(2)
        ),
        format!("in_port=1,{},ip", eth(3)),
        format!("in_port=1,{},ip", eth(4)),
        // Decapsulated: option matches under its mask, does not, absent.
        format!("in_port=4,{tun},tun_metadata0=0x1a,{},ip", eth(1)),
        format!("in_port=4,{tun},tun_metadata0=0x1b,{},ip", eth(1)),
        format!("in_port=4,{tun},{},ip", eth(1)),
        // ECN: inherited on encapsulation (CE as ECT(0)). (The outer CE
        // mark on decapsulation is not traced: ferrovs's trace flow text
        // does not carry tun_tos.)
        format!("in_port=1,{},ip,nw_ecn=3", eth(4)),
        format!("in_port=1,{},ip,nw_ecn=1", eth(2)),
    ];
    for t in &traces {
        let o = ovs_appctl(&["ofproto/trace", "br-int", t]);
        let f = fv_appctl(&["ofproto/trace", "br-int", t]);
        let (fa, fm) = lines(&f, &fnm);
        let (oa, om) = lines(&o, &on);
        assert_eq!(fa, oa, "{t}\nferrovs:\n{f}\nOVS:\n{o}");
        assert!(!oa.is_empty(), "{t}: OVS printed no actions:\n{o}");
        eprintln!("{t}\n  -> {oa}\n  megaflow OVS {om}\n  megaflow ferrovs {fm}");
    }
}
