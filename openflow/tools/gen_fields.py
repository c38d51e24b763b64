#!/usr/bin/env python3
"""Generate openflow/src/field/table.rs from OVS's include/openvswitch/meta-flow.h.

The header's structured comments are the facts (names, widths, maskability,
prerequisites, NXM/OXM assignments).  Usage:
  # OVS_CHECKOUT: a clone of openvswitch/ovs
  git -C "$OVS_CHECKOUT" show v3.1.0:include/openvswitch/meta-flow.h \
      | python3 openflow/tools/gen_fields.py > openflow/src/field/table.rs
"""
import re
import sys

WIDTH = {"u8": 1, "be16": 2, "be32": 4, "MAC": 6, "be64": 8, "be128": 16, "tunnelMD": 124}
FORMAT = {
    "decimal": "Decimal", "hexadecimal": "Hexadecimal", "ct state": "CtState",
    "Ethernet": "Ethernet", "IPv4": "Ipv4", "IPv6": "Ipv6",
    "OpenFlow 1.0 port": "OfpPort", "OpenFlow 1.1+ port": "OfpPortOxm",
    "frag": "Frag", "tunnel flags": "TunnelFlags", "TCP flags": "TcpFlags",
    "packet type": "PacketType",
}
PREREQ = {
    "none": "None", "Ethernet": "Ethernet", "ARP": "Arp", "VLAN VID": "VlanVid",
    "IPv4": "Ipv4", "IPv6": "Ipv6", "IPv4/IPv6": "IpAny", "NSH": "Nsh", "CT": "CtValid",
    "MPLS": "Mpls", "TCP": "Tcp", "UDP": "Udp", "SCTP": "Sctp", "ICMPv4": "Icmpv4",
    "ICMPv6": "Icmpv6", "ND": "Nd", "ND solicit": "NdSolicit", "ND advert": "NdAdvert",
}
# prefix -> (class, experimenter)
CLASSES = [
    ("OXM_OF_PKT_REG", 0x8001, 0), ("NXOXM_NSH_", 0xFFFF, 0x005AD650),
    ("NXOXM_ET_", 0xFFFF, 0x00002320), ("ONFOXM_ET_", 0xFFFF, 0x4F4E4600),
    ("ERICOXM_OF_", 0x1000, 0), ("NXM_OF_", 0x0000, 0), ("NXM_NX_", 0x0001, 0),
    ("OXM_OF_", 0x8000, 0),
]
VERS = {"1.0": "Of10", "1.1": "Of11", "1.2": "Of12", "1.3": "Of13", "1.4": "Of14", "1.5": "Of15"}


def camel(name):
    return "".join(p[:1].upper() + p[1:] for p in name.split("_"))


def header(spec):
    m = re.match(r"(\w+)\((\d+)\)(?: since (?:OF(\d\.\d) and )?v[\d.]+)?", spec.strip())
    if not m:
        raise SystemExit("bad header spec %r" % spec)
    name, code, ofv = m.group(1), int(m.group(2)), m.group(3)
    for p, cls, exp in CLASSES:
        if name.startswith(p):
            return (name, cls, exp, code, VERS.get(ofv, "Of10") if ofv else None)
    raise SystemExit("no class for " + name)


def expand(block, n):
    """Expand <N> metasyntax for field index n; keep lines tagged <n> only."""
    out = []
    for line in block:
        tag = re.search(r"<(\d+)>\s*$", line)
        if tag:
            if int(tag.group(1)) != n:
                continue
            line = line[: tag.start()]
        out.append(line.replace("<N>", str(n)))
    return out


def parse(text):
    fields = []
    lines = text.split("\n")
    i = 0
    comment = []
    in_enum = False
    while i < len(lines):
        line = lines[i]
        if "enum OVS_PACKED_ENUM mf_field_id" in line:
            in_enum = True
        if not in_enum:
            i += 1
            continue
        if re.match(r"\s*MFF_N_IDS", line):
            break
        if re.match(r"\s*/\* \"", line):
            comment = []
            while True:
                comment.append(lines[i])
                if "*/" in lines[i]:
                    break
                i += 1
            # collect the MFF_ ids that follow
            ids = []
            j = i + 1
            while j < len(lines):
                m = re.match(r"\s*(MFF_\w+),", lines[j])
                if m:
                    ids.append(m.group(1))
                elif lines[j].strip().startswith("#") or not lines[j].strip():
                    if ids and not lines[j].strip().startswith("#if") and not lines[j].strip():
                        break
                else:
                    break
                j += 1
            for k, mff in enumerate(ids):
                # <N> is the id's own number (reg0.. from 0, nsh_c1.. from 1).
                num = re.search(r"(\d+)$", mff)
                n = int(num.group(1)) if num else k
                blk = expand(comment, n) if len(ids) > 1 else comment
                fields.append(build(mff, blk))
            i = j
            continue
        i += 1
    return fields


def build(mff, blk):
    text = "\n".join(l.strip().lstrip("/").lstrip("*").strip() for l in blk)
    m = re.match(r'"([^"]+)"(?: \(aka "([^"]+)"\))?', text)
    name, extra = m.group(1), m.group(2)
    kv = {}
    key = None
    for l in text.split("\n"):
        mm = re.match(r"(Type|Maskable|Formatting|Prerequisites|Access|NXM|OXM|OF1\.0|OF1\.1|Prefix lookup member): (.*)", l)
        if mm:
            key = mm.group(1)
            kv.setdefault(key, []).append(mm.group(2))
        elif key in ("OXM", "NXM") and re.match(r"\w+\(\d+\)", l):
            kv[key][-1] += " " + l
        else:
            key = None
    def one(k):
        return kv[k][0].rstrip(".").strip()
    t = one("Type")
    tm = re.match(r"(\w+)(?: \(low (\d+) bits\))?", t)
    width = WIDTH[tm.group(1)]
    bits = int(tm.group(2)) if tm.group(2) else width * 8
    hdrs = []
    for k in ("NXM", "OXM"):
        for v in kv.get(k, []):
            v = v.replace("*/", "").strip().rstrip(".")
            if v == "none":
                continue
            for part in v.split(","):
                part = part.strip().rstrip(".")
                if part:
                    hdrs.append(header(part))
    return dict(mff=mff, name=name, extra=extra, width=width, bits=bits,
                variable=(tm.group(1) == "tunnelMD"), maskable=one("Maskable") == "bitwise",
                format=FORMAT[one("Formatting")], prereq=PREREQ[one("Prerequisites")],
                writable=one("Access") == "read/write", hdrs=hdrs,
                of10=kv.get("OF1.0", [None])[0], of11=kv.get("OF1.1", [None])[0])


def main():
    fields = parse(sys.stdin.read())
    names = set()
    out = []
    w = out.append
    w("// Generated by openflow/tools/gen_fields.py from OVS 3.1 meta-flow.h. Do not edit by hand.")
    w("//! The table of every match field OVS 3.1 knows, one row per field.")
    w("")
    w("use super::{FieldFormat, FieldInfo, OxmHeaderDef, Prereq};")
    w("use crate::version::Version;")
    w("")
    w("/// Every match field OVS 3.1 knows, in OVS's `mf_field_id` order.")
    w("///")
    w("/// `Field as usize` indexes [`FIELDS`].")
    w("#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]")
    w("#[repr(u16)]")
    w("pub enum Field {")
    for f in fields:
        v = camel(f["name"])
        assert v not in names, v
        names.add(v)
        f["variant"] = v
        w("    /// `%s`%s (OVS `%s`)." % (f["name"], (" aka `%s`" % f["extra"]) if f["extra"] else "", f["mff"]))
        w("    %s," % v)
    w("}")
    w("")
    w("/// Number of fields in [`FIELDS`].")
    w("pub const N_FIELDS: usize = %d;" % len(fields))
    w("")
    w("/// Row `i` describes the field whose discriminant is `i`.")
    w("pub static FIELDS: [FieldInfo; N_FIELDS] = [")
    for f in fields:
        hd = ", ".join(
            "OxmHeaderDef { name: \"%s\", class: 0x%04x, experimenter: 0x%08x, field: %d, since: %s }"
            % (n, cls, exp, code, ("Some(Version::%s)" % ofv) if ofv else "None")
            for (n, cls, exp, code, ofv) in f["hdrs"])
        w("    FieldInfo {")
        w("        field: Field::%s," % f["variant"])
        w('        name: "%s",' % f["name"])
        w("        extra_name: %s," % (('Some("%s")' % f["extra"]) if f["extra"] else "None"))
        w("        width: %d," % f["width"])
        w("        bits: %d," % f["bits"])
        w("        variable: %s," % ("true" if f["variable"] else "false"))
        w("        maskable: %s," % ("true" if f["maskable"] else "false"))
        w("        format: FieldFormat::%s," % f["format"])
        w("        prereq: Prereq::%s," % f["prereq"])
        w("        writable: %s," % ("true" if f["writable"] else "false"))
        w("        headers: &[%s]," % hd)
        w("    },")
    w("];")
    print("\n".join(out))


main()
