//! `vsctl show`: the tree ovs-vsctl prints (OVS's `cmd_show_tables`): the
//! Open_vSwitch row's uuid, then Manager and Bridge rows, each Bridge's
//! Controller rows and settings, its Ports and their Interfaces, four
//! spaces per level. A row is named by its name column (uuid without one);
//! referenced rows of the shown tables are printed in place, in the
//! column's (uuid) order; other columns only when not at their default.

use ovsdb::atom::Atom;
use ovsdb::datum::Datum;

use super::db::Db;
use super::text;

/// (table, name column, shown columns) as OVS 3.1's ovs-vsctl.
const TABLES: &[(&str, Option<&str>, &[&str])] = &[
    (
        "Open_vSwitch",
        None,
        &["manager_options", "bridges", "ovs_version"],
    ),
    (
        "Bridge",
        Some("name"),
        &["controller", "fail_mode", "datapath_type", "ports"],
    ),
    ("Port", Some("name"), &["tag", "trunks", "interfaces"]),
    (
        "Interface",
        Some("name"),
        &["type", "options", "error", "bfd_status"],
    ),
    ("Controller", Some("target"), &["is_connected"]),
    ("Manager", Some("target"), &["is_connected"]),
];

pub fn show(db: &Db) -> String {
    let mut out = String::new();
    let t = db.schema.table("Open_vSwitch").expect("schema table");
    let rows: Vec<usize> = db.live(t).map(|(i, _)| i).collect();
    for r in rows {
        row(db, 0, t, r, &mut out);
    }
    out
}

fn row(db: &Db, level: usize, t: usize, r: usize, out: &mut String) {
    let ts = db.ts(t);
    let Some(&(_, name_col, cols)) = TABLES.iter().find(|x| x.0 == ts.name) else {
        return;
    };
    let ind = " ".repeat(level * 4);
    match name_col {
        Some(n) => {
            let c = ts.column(n).expect("schema column");
            let name = db.rows[t][r].cols[c]
                .first()
                .map(text::atom)
                .unwrap_or_default();
            out.push_str(&format!("{ind}{} {name}\n", ts.name));
        }
        None => out.push_str(&format!("{ind}{}\n", db.rows[t][r].uuid)),
    }
    for col in cols.iter() {
        let Some(c) = ts.column(col) else { continue };
        let cs = &ts.columns[c];
        let d = &db.rows[t][r].cols[c];
        let target = cs.ty.key.ref_table.as_ref().map(|(n, _)| n.as_str());
        if let Some(target) = target.filter(|n| TABLES.iter().any(|x| x.0 == *n)) {
            let rt = db.schema.table(target).expect("schema table");
            for u in d.keys().filter_map(Atom::as_uuid) {
                if let Some(rr) = db.by_uuid(rt, u) {
                    row(db, level + 1, rt, rr, out);
                }
            }
            continue;
        }
        if *d == Datum::default_for(&cs.ty) {
            continue;
        }
        out.push_str(&format!("{ind}    {col}: {}\n", text::datum(d, &cs.ty)));
    }
}
