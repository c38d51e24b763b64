//! Group text: `group_id=1,type=select,bucket=weight:10,actions=output:1,...`.
//!
//! A group is its id, type, optional selection method (OVS's OpenFlow 1.5
//! extension) and a list of buckets, each an action list with optional
//! bucket id, weight, watch port and watch group. Printing follows
//! `ovs-ofctl dump-groups` for the version given: bucket ids and the
//! selection method only exist on the wire from OpenFlow 1.5 on.

use super::action::{format_actions, Action};
use super::action_parse::parse_actions;
use super::error::ParseError;
use super::lexer::Items;
use super::normalize::{normalize_bucket_actions, WireVersion};
use super::value::{format_port, parse_port, parse_uint};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupType {
    All,
    Select,
    Indirect,
    FastFailover,
}

impl GroupType {
    fn name(self) -> &'static str {
        match self {
            GroupType::All => "all",
            GroupType::Select => "select",
            GroupType::Indirect => "indirect",
            GroupType::FastFailover => "ff",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub bucket_id: Option<u32>,
    pub weight: u16,
    pub watch_port: Option<u32>,
    pub watch_group: Option<u32>,
    pub actions: Vec<Action>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupText {
    pub group_id: u32,
    pub group_type: GroupType,
    pub selection_method: Option<String>,
    pub selection_method_param: u64,
    pub fields: Vec<String>,
    pub buckets: Vec<Bucket>,
}

/// Splits at `bucket=` keys that start an item (not inside parentheses).
fn split_buckets(s: &str) -> Result<(&str, Vec<&str>), ParseError> {
    let b = s.as_bytes();
    let mut depth = 0i32;
    let mut cuts = Vec::new();
    for i in 0..b.len() {
        match b[i] {
            b'(' => depth += 1,
            b')' => depth -= 1,
            _ => {}
        }
        let at_item = i == 0 || matches!(b[i - 1], b',' | b' ' | b'\t');
        if depth == 0 && at_item && s[i..].starts_with("bucket=") {
            cuts.push(i);
        }
    }
    if depth != 0 {
        return Err(ParseError::Unbalanced(s.to_string()));
    }
    let head_end = cuts.first().copied().unwrap_or(s.len());
    let mut buckets = Vec::new();
    for (k, &c) in cuts.iter().enumerate() {
        let end = cuts.get(k + 1).copied().unwrap_or(s.len());
        buckets.push(s[c + 7..end].trim_end_matches([',', ' ', '\t']));
    }
    Ok((&s[..head_end], buckets))
}

fn parse_bucket(s: &str, group_type: GroupType) -> Result<Bucket, ParseError> {
    let mut b = Bucket {
        bucket_id: None,
        weight: if group_type == GroupType::Select {
            1
        } else {
            0
        },
        watch_port: None,
        watch_group: None,
        actions: Vec::new(),
    };
    let mut acts = String::new();
    for item in Items::new(s) {
        let item = item?;
        match item.key {
            "bucket_id" => b.bucket_id = Some(num(item.key, item.value)? as u32),
            "weight" => {
                b.weight = u16::try_from(num(item.key, item.value)?)
                    .map_err(|_| ParseError::bad("weight", item.value))?
            }
            "watch_port" => b.watch_port = Some(parse_port(item.value)?),
            "watch_group" => b.watch_group = Some(num(item.key, item.value)? as u32),
            "actions" => {
                // Everything from here on is the action list.
                if !item.text.starts_with("actions=") {
                    return Err(ParseError::bad("bucket", item.text));
                }
                let start = item.text.as_ptr() as usize - s.as_ptr() as usize + "actions=".len();
                if !acts.is_empty() {
                    acts.push(',');
                }
                acts.push_str(&s[start..]);
                break;
            }
            _ => {
                if !acts.is_empty() {
                    acts.push(',');
                }
                acts.push_str(item.text);
            }
        }
    }
    b.actions = parse_actions(&acts)?;
    Ok(b)
}

fn num(k: &str, v: &str) -> Result<u64, ParseError> {
    let x = parse_uint(k, v)?;
    u64::try_from(x).map_err(|_| ParseError::bad(k, v))
}

impl GroupText {
    /// Parses an `ovs-ofctl add-group` line.
    pub fn parse(s: &str) -> Result<GroupText, ParseError> {
        let (head, buckets) = split_buckets(s)?;
        let mut id = None;
        let mut ty = None;
        let mut g = GroupText {
            group_id: 0,
            group_type: GroupType::All,
            selection_method: None,
            selection_method_param: 0,
            fields: Vec::new(),
            buckets: Vec::new(),
        };
        for item in Items::new(head) {
            let item = item?;
            match item.key {
                "group_id" => {
                    let v = num(item.key, item.value)?;
                    if v > 0xffff_ff00 {
                        return Err(ParseError::bad("group_id", item.value));
                    }
                    id = Some(v as u32)
                }
                "type" => {
                    ty = Some(match item.value {
                        "all" => GroupType::All,
                        "select" => GroupType::Select,
                        "indirect" => GroupType::Indirect,
                        "ff" | "fast_failover" => GroupType::FastFailover,
                        x => return Err(ParseError::bad("type", x)),
                    })
                }
                "selection_method" => {
                    if !matches!(item.value, "hash" | "dp_hash") {
                        return Err(ParseError::bad("selection_method", item.value));
                    }
                    g.selection_method = Some(item.value.to_string())
                }
                "selection_method_param" => g.selection_method_param = num(item.key, item.value)?,
                "fields" if item.paren => {
                    for f in item.value.split(',') {
                        g.fields.push(hash_field(f.trim())?);
                    }
                }
                _ => return Err(ParseError::UnknownKeyword(item.text.to_string())),
            }
        }
        g.group_id = id.ok_or_else(|| ParseError::Syntax("must specify a group_id".into()))?;
        g.group_type = ty.ok_or_else(|| ParseError::Syntax("must specify a type".into()))?;
        for b in buckets {
            g.buckets.push(parse_bucket(b, g.group_type)?);
        }
        if g.group_type == GroupType::Indirect && g.buckets.len() > 1 {
            return Err(ParseError::Syntax(
                "indirect groups can have at most one bucket".into(),
            ));
        }
        Ok(g)
    }

    /// Rewrites the group into the form a switch returns in `ver`
    /// (bucket ids numbered from 0 in OpenFlow 1.5, actions normalized).
    pub fn normalize(&mut self, ver: WireVersion) {
        for (i, b) in self.buckets.iter_mut().enumerate() {
            if ver >= WireVersion::Of15 {
                b.bucket_id.get_or_insert(i as u32);
            } else {
                b.bucket_id = None;
            }
            b.actions = normalize_bucket_actions(std::mem::take(&mut b.actions), ver);
        }
        if ver < WireVersion::Of15 {
            self.selection_method = None;
            self.selection_method_param = 0;
            self.fields.clear();
        }
    }

    /// Prints the group as `ovs-ofctl dump-groups` does.
    pub fn format(&self) -> String {
        let mut s = format!("group_id={},type={}", self.group_id, self.group_type.name());
        if let Some(m) = &self.selection_method {
            s.push_str(&format!(",selection_method={m}"));
            if self.selection_method_param != 0 {
                s.push_str(&format!(
                    ",selection_method_param={}",
                    self.selection_method_param
                ));
            }
            if !self.fields.is_empty() {
                s.push_str(&format!(",fields({})", self.fields.join(",")));
            }
        }
        let default_weight = if self.group_type == GroupType::Select {
            1
        } else {
            0
        };
        for b in &self.buckets {
            s.push_str(",bucket=");
            if let Some(id) = b.bucket_id {
                s.push_str(&format!("bucket_id:{id},"));
            }
            if b.weight != default_weight {
                s.push_str(&format!("weight:{},", b.weight));
            }
            if let Some(p) = b.watch_port {
                s.push_str(&format!("watch_port:{},", format_port(p)));
            }
            if let Some(g) = b.watch_group {
                s.push_str(&format!("watch_group:{g},"));
            }
            s.push_str("actions=");
            s.push_str(&format_actions(&b.actions));
        }
        s
    }
}

/// One entry of a select group's `fields(...)`: `NAME` or `NAME=MASK`
/// (the mask written as a value of the field, no `/`), in OVS's canonical
/// spelling: the field's own name (`nw_proto`, not `ip_proto`) and the
/// mask as `mf_format` prints it, left out when it is all ones.
fn hash_field(f: &str) -> Result<String, ParseError> {
    let (name, mask) = match f.split_once('=') {
        Some((n, m)) => (n.trim(), Some(m.trim())),
        None => (f, None),
    };
    let field = super::field::by_name(name).ok_or_else(|| ParseError::bad("fields", f))?;
    let Some(mask) = mask else {
        return Ok(field.name.to_string());
    };
    if mask.contains('/') {
        // OVS: "wildcards not allowed here".
        return Err(ParseError::bad("fields", f));
    }
    let (m, _) = super::value::parse_masked(name, field.fmt, field.bits as u32, false, mask)?;
    if m == super::field::ones(field.bits as u32) {
        return Ok(field.name.to_string());
    }
    Ok(format!(
        "{}={}",
        field.name,
        super::action::mf_format(field, m, None)
    ))
}
