//! Meter text: `meter=1,kbps,burst,stats,band=type=drop,rate=100,burst_size=10`.
//!
//! A meter is an id, its unit and flags, and bands (drop or DSCP remark,
//! each with a rate and optional burst size). `format` prints the two-line
//! form of `ovs-ofctl dump-meters` (`meter=1 kbps bands=` then one
//! `type=drop rate=100` line per band), joined with `\n`.

use super::error::ParseError;
use super::lexer::Items;
use super::value::parse_uint;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Band {
    /// `None` = drop, `Some(prec_level)` = dscp_remark.
    pub dscp_remark: Option<u8>,
    pub rate: u32,
    pub burst_size: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterText {
    pub meter_id: u32,
    pub kbps: bool,
    pub burst: bool,
    pub stats: bool,
    pub bands: Vec<Band>,
}

fn n32(k: &str, v: &str) -> Result<u32, ParseError> {
    u32::try_from(parse_uint(k, v)?).map_err(|_| ParseError::bad(k, v))
}

impl MeterText {
    /// Parses an `ovs-ofctl add-meter` line.
    pub fn parse(s: &str) -> Result<MeterText, ParseError> {
        let mut m = MeterText {
            meter_id: 0,
            kbps: false,
            burst: false,
            stats: false,
            bands: Vec::new(),
        };
        let (head, bands) = match s.find("band=") {
            Some(i) => (&s[..i], Some(&s[i + 5..])),
            None => (s, None),
        };
        let mut id = None;
        let (mut kbps, mut pktps) = (false, false);
        for item in Items::new(head) {
            let item = item?;
            match item.key {
                "meter" => {
                    id = Some(match item.value {
                        "all" => return Err(ParseError::bad("meter", "all")),
                        v => n32("meter", v)?,
                    })
                }
                "kbps" => kbps = true,
                "pktps" => pktps = true,
                "burst" => m.burst = true,
                "stats" => m.stats = true,
                _ => return Err(ParseError::UnknownKeyword(item.text.to_string())),
            }
        }
        m.meter_id = id.ok_or_else(|| ParseError::Syntax("must specify a meter".into()))?;
        if kbps == pktps {
            return Err(ParseError::Syntax(
                "meter must specify either 'kbps' or 'pktps'".into(),
            ));
        }
        m.kbps = kbps;
        if let Some(b) = bands {
            let mut band: Option<Band> = None;
            for item in Items::new(b) {
                let item = item?;
                match item.key {
                    "type" => {
                        if let Some(done) = band.take() {
                            m.bands.push(done);
                        }
                        band = Some(Band {
                            dscp_remark: match item.value {
                                "drop" => None,
                                "dscp_remark" => Some(0),
                                x => return Err(ParseError::bad("type", x)),
                            },
                            rate: 0,
                            burst_size: 0,
                        });
                    }
                    k @ ("rate" | "burst_size" | "prec_level") => {
                        let bd = band.as_mut().ok_or_else(|| {
                            ParseError::Syntax("band must start with type".into())
                        })?;
                        let v = n32(k, item.value)?;
                        match k {
                            "rate" => bd.rate = v,
                            "burst_size" => bd.burst_size = v,
                            _ => {
                                bd.dscp_remark = Some(
                                    u8::try_from(v).map_err(|_| ParseError::bad(k, item.value))?,
                                )
                            }
                        }
                    }
                    _ => return Err(ParseError::UnknownKeyword(item.text.to_string())),
                }
            }
            if let Some(done) = band {
                m.bands.push(done);
            }
        }
        Ok(m)
    }

    /// Prints the meter as `ovs-ofctl dump-meters` does (lines joined by
    /// `\n`).
    pub fn format(&self) -> String {
        let mut s = format!("meter={} ", self.meter_id);
        s.push_str(if self.kbps { "kbps " } else { "pktps " });
        if self.burst {
            s.push_str("burst ");
        }
        if self.stats {
            s.push_str("stats ");
        }
        s.push_str("bands=");
        for b in &self.bands {
            s.push('\n');
            match b.dscp_remark {
                None => s.push_str(&format!("type=drop rate={}", b.rate)),
                Some(_) => s.push_str(&format!("type=dscp_remark rate={}", b.rate)),
            }
            if b.burst_size != 0 {
                s.push_str(&format!(" burst_size={}", b.burst_size));
            }
            if let Some(p) = b.dscp_remark {
                s.push_str(&format!(" prec_level={p}"));
            }
        }
        s
    }
}
