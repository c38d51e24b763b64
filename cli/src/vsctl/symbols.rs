//! The `@name`s of one invocation (`--id=@name create ...`): each name is
//! bound to the uuid of the row it creates, and can be referred to in any
//! command, before or after the one that creates it, wherever a uuid is
//! expected. A name referred to first gets its uuid then; a name never
//! created is an error at the end, as in ovs-vsctl.

use std::cell::RefCell;
use std::collections::BTreeMap;

use uuid::Uuid;

struct Symbol {
    uuid: Uuid,
    created: bool,
}

#[derive(Default)]
pub struct Symbols(RefCell<BTreeMap<String, Symbol>>);

impl Symbols {
    fn entry(&self, name: &str) -> Uuid {
        self.0
            .borrow_mut()
            .entry(name.to_string())
            .or_insert_with(|| Symbol {
                uuid: Uuid::new_v4(),
                created: false,
            })
            .uuid
    }

    /// The uuid `@name` stands for (a reference).
    pub fn resolve(&self, name: &str) -> Uuid {
        self.entry(name)
    }

    /// `--id=@name` on the command that creates the row: its uuid.
    pub fn declare(&self, name: &str) -> Result<Uuid, String> {
        if !name.starts_with('@') {
            return Err(format!("row id \"{name}\" does not begin with \"@\""));
        }
        let u = self.entry(name);
        let mut m = self.0.borrow_mut();
        let s = m.get_mut(name).expect("just made");
        if s.created {
            return Err(format!(
                "row id \"{name}\" may only be specified on one --id option"
            ));
        }
        s.created = true;
        Ok(u)
    }

    /// Fails for the first name referred to but never created.
    pub fn check(&self) -> Result<(), String> {
        match self.0.borrow().iter().find(|(_, s)| !s.created) {
            Some((n, _)) => Err(format!(
                "row id \"{n}\" is referenced but never created (e.g. with \"-- --id={n} create ...\")"
            )),
            None => Ok(()),
        }
    }
}
