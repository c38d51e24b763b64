//! The namespace and veth guards remove what they created.
use ferrovs_tests::{Netns, Veth};
use std::process::Command;

fn netns_list() -> String {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn netns_and_veth_are_removed_on_drop() {
    let name;
    let link;
    {
        let ns = Netns::new("guard").unwrap();
        name = ns.name().to_string();
        assert!(netns_list().contains(&name));
        let veth = Veth::new("g").unwrap();
        link = veth.a.clone();
        veth.attach_b(&ns, "198.18.0.1/24").unwrap();
        let addrs = ns.exec(&["ip", "-o", "addr"]).unwrap();
        assert!(addrs.contains("198.18.0.1/24"), "{addrs}");
    }
    assert!(!netns_list().contains(&name));
    let st = Command::new("ip")
        .args(["link", "show", &link])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(!st.success(), "link {link} still exists");
}
